package distribution

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/registry"
)

func (s *Handler) serveManifest(q *request) error {
	switch q.req.Method {
	case http.MethodGet, http.MethodHead:
		img, body, err := s.reg.GetManifest(q.ctx, q.scope, q.rt.Name, q.rt.Ref)
		if err != nil {
			return err
		}
		h := q.w.Header()
		h.Set("Content-Type", img.MediaType)
		h.Set("Docker-Content-Digest", img.Digest)
		h.Set("ETag", `"`+img.Digest+`"`)
		h.Set("Content-Length", itoa64(int64(len(body))))
		q.w.WriteHeader(http.StatusOK)
		if q.req.Method == http.MethodGet {
			q.w.Write(body)
		}
		return nil
	case http.MethodPut:
		body, err := readLimited(q.req.Body, s.reg.MaxManifestBytes())
		if err != nil {
			return err
		}
		in, err := manifestPutParams(q)
		if err != nil {
			return err
		}
		in.MediaType, in.Body = q.req.Header.Get("Content-Type"), body
		res, err := s.reg.PutManifestWith(q.ctx, q.scope, q.rt.Name, in)
		if err != nil {
			return err
		}
		h := q.w.Header()
		h.Set("Location", route{Kind: routeManifest, Name: q.rt.Name, Ref: res.Image.Digest}.path())
		h.Set("Docker-Content-Digest", res.Image.Digest)
		for _, t := range res.Tags {
			h.Add("OCI-Tag", t)
		}
		if res.Image.Subject != nil {
			h.Set("OCI-Subject", res.Image.Subject.Digest)
		}
		writeEmpty(q, http.StatusCreated)
		return nil
	case http.MethodDelete:
		id, err := registry.ParseReference(q.rt.Ref)
		if err != nil {
			return err
		}
		if _, err := s.reg.DeleteImage(q.ctx, q.scope, q.rt.Name, id); err != nil {
			return err
		}
		writeEmpty(q, http.StatusAccepted)
		return nil
	}
	return errMethodNotAllowed
}

// manifestPutParams reads a manifest PUT's reference and parameters: the
// tags to set (?tag=, repeatable, end-7b; with the path's tag, if it is
// one), and for a push by tag the digest to store it under (?digest=) or
// the algorithm to compute it with (?digest-type= or ?digest-algorithm=).
// A push by digest may restate its algorithm, not change it.
func manifestPutParams(q *request) (registry.ManifestPut, error) {
	ref, err := registry.ParseReference(q.rt.Ref)
	if err != nil {
		return registry.ManifestPut{}, err
	}
	v := q.req.URL.Query()
	in := registry.ManifestPut{Digest: ref.Digest}
	if ref.Tag != "" {
		in.Tags = append(in.Tags, ref.Tag)
	}
	in.Tags = append(in.Tags, v["tag"]...)
	if d, ok := v["digest"]; ok {
		if len(d) != 1 || (in.Digest != "" && d[0] != in.Digest) {
			return registry.ManifestPut{}, errdefs.Newf(registry.ErrDigestInvalid, "The digest parameter '%s' does not match the reference '%s'", truncate(strings.Join(d, ","), 200), truncate(q.rt.Ref, 200))
		}
		if err := registry.ValidateDigest(d[0]); err != nil {
			return registry.ManifestPut{}, err
		}
		in.Digest = d[0]
	}
	for _, key := range []string{"digest-type", "digest-algorithm"} {
		a, ok := v[key]
		if !ok {
			continue
		}
		if len(a) != 1 || a[0] == "" || (in.Algorithm != "" && a[0] != in.Algorithm) {
			return registry.ManifestPut{}, errdefs.Newf(registry.ErrDigestInvalid, "Invalid parameter %s='%s': it must name one digest algorithm, sha256 or sha512", key, truncate(strings.Join(a, ","), 64))
		}
		in.Algorithm = a[0]
	}
	return in, nil
}

func (s *Handler) serveBlob(q *request) error {
	if q.req.Method == http.MethodDelete {
		if err := s.reg.DeleteBlob(q.ctx, q.scope, q.rt.Name, q.rt.Ref); err != nil {
			return err
		}
		writeEmpty(q, http.StatusAccepted)
		return nil
	}
	f, info, err := s.reg.OpenBlob(q.ctx, q.scope, q.rt.Name, q.rt.Ref)
	if err != nil {
		return err
	}
	defer f.Close()
	h := q.w.Header()
	h.Set("Docker-Content-Digest", info.Digest)
	h.Set("ETag", `"`+info.Digest+`"`)
	h.Set("Content-Type", "application/octet-stream")
	// Content is immutable by digest: ServeContent does Range, HEAD,
	// If-None-Match / If-Range against the ETag and Content-Length.
	http.ServeContent(q.w, q.req, "", time.Time{}, f)
	return nil
}

// setUploadHeaders describes an upload session in a response.
func setUploadHeaders(q *request, up registry.Upload) {
	h := q.w.Header()
	h.Set("Location", route{Kind: routeUpload, Name: q.rt.Name, Ref: up.ID}.path())
	h.Set("Range", rangeHeader(up.Offset))
	h.Set("Docker-Upload-UUID", up.ID)
}

func (s *Handler) blobCreated(q *request, info registry.BlobInfo) {
	h := q.w.Header()
	h.Set("Location", route{Kind: routeBlob, Name: q.rt.Name, Ref: info.Digest}.path())
	h.Set("Docker-Content-Digest", info.Digest)
	writeEmpty(q, http.StatusCreated)
}

// serveUploadStart is POST /v2/<name>/blobs/uploads/: a cross-repository
// mount (?mount=&from=, or ?mount= alone: from any repository of the
// registry the caller may download the layer from), a monolithic upload
// (?digest=), or a new session. A mount that cannot be done falls back to a
// new session, as the spec says.
func (s *Handler) serveUploadStart(q *request) error {
	v := q.req.URL.Query()
	if mount, from := v.Get("mount"), v.Get("from"); mount != "" {
		canRead := func(src string) error { return s.reg.Authorize(q.ctx, q.who, q.scope, src, registry.ActionPullLayer) }
		var info registry.BlobInfo
		var err error
		if from == "" {
			info, err = s.reg.MountBlobFromAny(q.ctx, q.scope, q.rt.Name, mount, canRead)
		} else if err = canRead(from); err == nil {
			info, err = s.reg.MountBlob(q.ctx, q.scope, q.rt.Name, from, mount)
		}
		if err == nil {
			s.blobCreated(q, info)
			return nil
		}
		if !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrPermissionDenied) && !errors.Is(err, registry.ErrNameInvalid) {
			return err
		}
	} else if digest := v.Get("digest"); digest != "" {
		info, err := s.reg.PutBlob(q.ctx, q.scope, q.rt.Name, digest, q.req.ContentLength, q.req.Body)
		if err != nil {
			return err
		}
		s.blobCreated(q, info)
		return nil
	}
	up, err := s.reg.StartUpload(q.ctx, q.scope, q.rt.Name)
	if err != nil {
		return err
	}
	setUploadHeaders(q, up)
	writeEmpty(q, http.StatusAccepted)
	return nil
}

// parseContentRange reads "Content-Range: <start>-<end>" (a "bytes "
// prefix is tolerated). ok is false when the header is absent.
func parseContentRange(h string, contentLength int64) (start int64, ok bool, err error) {
	if h == "" {
		return -1, false, nil
	}
	s := strings.TrimPrefix(strings.TrimSpace(h), "bytes ")
	a, b, found := strings.Cut(s, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !found || err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, false, &registry.RangeError{Offset: -1}
	}
	if contentLength >= 0 && end-start+1 != contentLength {
		return 0, false, errdefs.Newf(registry.ErrSizeInvalid, "Content-Range %s does not match Content-Length %d", truncate(h, 50), contentLength)
	}
	return start, true, nil
}

// serveUpload is GET (status), PATCH (chunk), PUT (complete) and DELETE
// (cancel) of /v2/<name>/blobs/uploads/<id>.
func (s *Handler) serveUpload(q *request) error {
	id := q.rt.Ref
	switch q.req.Method {
	case http.MethodGet:
		up, err := s.reg.UploadStatus(q.ctx, q.scope, q.rt.Name, id)
		if err != nil {
			return err
		}
		setUploadHeaders(q, up)
		writeEmpty(q, http.StatusNoContent)
		return nil
	case http.MethodPatch:
		up, err := s.appendChunk(q, id)
		if err != nil {
			return err
		}
		setUploadHeaders(q, up)
		writeEmpty(q, http.StatusAccepted)
		return nil
	case http.MethodPut:
		digest := q.req.URL.Query().Get("digest")
		if err := registry.ValidateDigest(digest); err != nil {
			return err
		}
		if q.req.ContentLength != 0 {
			if _, err := s.appendChunk(q, id); err != nil {
				return err
			}
		}
		info, err := s.reg.CompleteUpload(q.ctx, q.scope, q.rt.Name, id, digest)
		if err != nil {
			return err
		}
		s.blobCreated(q, info)
		return nil
	case http.MethodDelete:
		if err := s.reg.CancelUpload(q.ctx, q.scope, q.rt.Name, id); err != nil {
			return err
		}
		writeEmpty(q, http.StatusNoContent)
		return nil
	}
	return errMethodNotAllowed
}

// appendChunk appends the request body at its Content-Range (or at the end
// for a streamed upload without one).
func (s *Handler) appendChunk(q *request, id string) (registry.Upload, error) {
	start, _, err := parseContentRange(q.req.Header.Get("Content-Range"), q.req.ContentLength)
	var re *registry.RangeError
	if errors.As(err, &re) {
		// Malformed range: answer 416 with where the upload really is.
		up, serr := s.reg.UploadStatus(q.ctx, q.scope, q.rt.Name, id)
		if serr != nil {
			return registry.Upload{}, serr
		}
		return registry.Upload{}, &registry.RangeError{Offset: up.Offset}
	}
	if err != nil {
		return registry.Upload{}, err
	}
	return s.reg.AppendUpload(q.ctx, q.scope, q.rt.Name, id, start, q.req.Body)
}
