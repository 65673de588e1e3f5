package distribution

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/registry"
)

// ociError is one entry of the OCI error body {"errors":[...]}.
type ociError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ociStatus maps an error to its HTTP status and OCI error code. It is the
// one place where the registry's errors become wire errors: sentinels first
// (most specific), then the errdefs classes, then 500 for the rest.
func ociStatus(err error) (int, string) {
	switch {
	case errors.Is(err, registry.ErrUnauthenticated):
		return http.StatusUnauthorized, "UNAUTHORIZED"
	case errors.Is(err, errdefs.ErrPermissionDenied):
		return http.StatusForbidden, "DENIED"
	case errors.Is(err, registry.ErrNameInvalid):
		return http.StatusBadRequest, "NAME_INVALID"
	case errors.Is(err, registry.ErrRepositoryNotFound):
		return http.StatusNotFound, "NAME_UNKNOWN"
	case errors.Is(err, registry.ErrImageNotFound):
		return http.StatusNotFound, "MANIFEST_UNKNOWN"
	case errors.Is(err, registry.ErrBlobNotFound):
		return http.StatusNotFound, "BLOB_UNKNOWN"
	case errors.Is(err, registry.ErrUploadNotFound):
		return http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN"
	case errors.Is(err, registry.ErrUploadRange):
		return http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID"
	case errors.Is(err, registry.ErrDigestInvalid):
		return http.StatusBadRequest, "DIGEST_INVALID"
	case errors.Is(err, registry.ErrManifestTooLarge):
		return http.StatusRequestEntityTooLarge, "SIZE_INVALID"
	case errors.Is(err, registry.ErrSizeInvalid):
		return http.StatusBadRequest, "SIZE_INVALID"
	case errors.Is(err, registry.ErrManifestBlobUnknown):
		return http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN"
	case errors.Is(err, registry.ErrManifestInvalid):
		return http.StatusBadRequest, "MANIFEST_INVALID"
	case errors.Is(err, registry.ErrTooManyTags):
		return http.StatusRequestURITooLong, "TAG_INVALID"
	case errors.Is(err, registry.ErrTagImmutable), errors.Is(err, registry.ErrReferenceInvalid):
		return http.StatusBadRequest, "TAG_INVALID"
	case errors.Is(err, registry.ErrBlobInUse):
		return http.StatusMethodNotAllowed, "UNSUPPORTED"
	case errors.Is(err, errRouteNotFound):
		return http.StatusNotFound, "UNSUPPORTED"
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed, "UNSUPPORTED"
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return http.StatusBadRequest, "UNSUPPORTED"
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound, "NAME_UNKNOWN"
	case errors.Is(err, errdefs.ErrUnsupported):
		return http.StatusMethodNotAllowed, "UNSUPPORTED"
	case errors.Is(err, errdefs.ErrLimitExceeded):
		return http.StatusTooManyRequests, "TOOMANYREQUESTS"
	case errors.Is(err, errdefs.ErrAlreadyExists), errors.Is(err, errdefs.ErrConflict):
		return http.StatusConflict, "DENIED"
	case errors.Is(err, errdefs.ErrUnavailable):
		return http.StatusServiceUnavailable, "UNAVAILABLE"
	}
	return http.StatusInternalServerError, "UNKNOWN"
}

var errMethodNotAllowed = errdefs.New(errdefs.ErrUnsupported, "The operation is unsupported.")

// writeError writes err in the OCI shape. Errors outside the known classes
// are logged and shown only as a generic message.
func (s *Handler) writeError(w http.ResponseWriter, req *http.Request, err error) {
	status, code := ociStatus(err)
	msg := errdefs.Message(err)
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(req.Context(), "registry request failed", "method", req.Method, "path", req.URL.Path, "error", err)
		msg = "An internal error occurred."
	}
	if status == http.StatusUnauthorized {
		scheme := "http"
		if req.TLS != nil {
			scheme = "https"
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="`+scheme+"://"+req.Host+`/",service="ecr.amazonaws.com"`)
	}
	body, _ := json.Marshal(struct {
		Errors []ociError `json:"errors"`
	}{[]ociError{{Code: code, Message: msg}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", itoa64(int64(len(body))))
	w.WriteHeader(status)
	if req.Method != http.MethodHead {
		w.Write(body)
	}
}
