// Package registry is fargo's OCI registry (distribution-spec 1.1) with ECR's
// semantics: its storage (store records and blob files) and the
// scope-aware domain methods that both of its front doors call, the /v2/
// API docker, crane and skopeo push to and pull from (package
// distribution, beside this one) and the ECR API adapter (api/ecr),
// including what ECR keeps between calls (layer part sizes, lifecycle
// previews). Every /v2/ request acts in one tenant.Scope (account and
// region), chosen from the Host header (RequestScope):
// <account>.dkr.ecr.<region>.localhost[:port], or, for any other host
// (localhost:<port>), the authenticated principal's own account in
// Config.DefaultScope's region.
//
// # Storage layout
//
// Metadata lives in the store, one transaction per state change; content
// lives in files, one copy per digest per account:
//
//	store (JSON values)
//	  ecr/<acct>/<region>/repos/<name>            Repository
//	  ecr/<acct>/<region>/images/<name>/<digest>  Image (manifest metadata)
//	  ecr/<acct>/<region>/tags/<name>/<tag>       "<digest>"
//	  ecr/<acct>/<region>/blobs/<name>/<digest>   blobLink: pullable from <name>
//	  ecr/<acct>/<region>/uploads/<id>            Upload session
//	  ecr/<acct>/<region>/lifecycle/<name>        lifecycleRecord: last evaluation
//
//	DataDir/
//	  blobs/<acct>/<sha256|sha512>/<hex[:2]>/<hex>   layers, configs and the
//	                                                 manifests' exact bytes
//	  uploads/<id>                                   session data (offset = size)
//	  uploads/<id>.hash                              its sha256 state so far and the
//	                                                 offset it covers (upload_hash.go)
//	  uploads/put-*                                  monolithic puts in flight
//
// Names may contain '/', so the keys of "a" are a prefix of those of "a/b";
// per-repository listings keep only keys with no '/' after the prefix
// (digests and tags never have one).
//
// A blob is pullable from a repository only through a link: written when it
// is uploaded or mounted into the repository, and for a manifest's own bytes
// when the manifest is pushed. A manifest is accepted only if its config and
// layers are linked and an index's children are images of the repository.
//
// # Upload pipeline
//
// (the /v2/ requests are package distribution's; the steps are this
// package's methods)
//
//	POST  /blobs/uploads/         -> StartUpload: create uploads/<id>, then the record
//	PATCH (Content-Range a-b)     -> AppendUpload: a must equal the size (else 416 +
//	                                 Range); a failed chunk is truncated away; the
//	                                 bytes are hashed as they are written, writeback
//	                                 started every 64 MiB, then uploads/<id>.hash saved
//	PUT   ?digest=d [last chunk]  -> CompleteUpload:
//	        hash (saved state, or re-read where the state cannot vouch for the
//	        file) == d ? --no--> DIGEST_INVALID (session kept)
//	        fsync(file)
//	        [gcMu shared] rename -> blobs/<acct>/<algo>/<ab>/<hex>; fsync(dir)
//	                      (already there: drop the upload, refresh mtime)
//	        one store tx: delete uploads/<id>, put blobs/<name>/<d>
//
// A monolithic upload (POST or PUT with ?digest=) hashes its body the same
// way, with the digest's algorithm, in uploads/put-*.
//
// A crash before the rename leaves only an upload file (collected by age); a
// crash after it leaves an unlinked blob (collected by CollectGarbage).
// Nothing is ever visible before its digest is verified and durable.
//
// # Digests, tags and mounts (distribution-spec 1.1 and its additions)
//
// A manifest is stored under the digest of its exact bytes, sha256 or
// sha512. Pushed by digest, the digest's algorithm is used; pushed by tag,
// sha256 unless the request names another: ?digest=<digest> (the bytes
// must have it) or ?digest-type= / ?digest-algorithm=sha512. A push may
// also set tags by parameter (PUT /manifests/<digest>?tag=a&tag=b, at most
// MaxTagsPerPush, answered with one OCI-Tag per tag); all of a push's tags
// are set in the same transaction as the image, so an IMMUTABLE tag that
// points elsewhere fails the whole push. A blob mount without from
// (?mount=<digest> alone) mounts from any repository of the same account
// and region that holds the blob and that the caller may download layers
// from (GetDownloadUrlForLayer, so another account needs a repository
// policy); when there is none the answer is a new upload session (202).
//
// # Errors
//
// Domain methods return errors that match (errors.Is) a sentinel of this
// package (ErrRepositoryNotFound, ErrTagImmutable, ...), each of which
// matches an errdefs class; the messages are ECR's. Each front door maps
// them once: distribution's ociStatus to OCI codes, api/ecr's mapError to
// ECR's.
package registry
