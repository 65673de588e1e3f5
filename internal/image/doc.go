// Package image pulls container images from OCI registries (fargo's own
// ECR-compatible registry or any other), unpacks each layer exactly once,
// and assembles container root filesystems as overlay mounts.
//
// # Pulling
//
//	Pull(ref)
//	  | parse ref (tag or digest)
//	  | GET manifest (or index), always:   the registry authorises every pull, cached or not
//	  |                                    resolved digest already indexed? --> done
//	  | index? pick the Config.Platform child
//	  | GET config: diffIDs, run config
//	  | per layer, in parallel (Config.Jobs):
//	  |   layers/sha256/<diffID> exists? --> skip
//	  |   singleflight on diffID (one unpack per Store, even across images)
//	  |     GET blob --sha256(compressed)--> gunzip|zstd --sha256(diffID)--> tar
//	  |       --> unpack into layers/tmp/<random>   (whiteouts -> overlay whiteouts)
//	  |     digests match? syncfs, rename tmp --> layers/sha256/<diffID>
//	  | write images/sha256/<digest>.json (after all layers: a record implies its layers)
//	  v
//	*Image{Ref, Digest, Manifest, Config, Layers (diffIDs, bottom first), Size}
//
// A layer directory only appears under layers/sha256 by an atomic rename of a
// fully unpacked and verified tree, so a crash (kill -9, power loss) mid-pull
// leaves only layers/tmp debris, which New removes.
//
// # Unpacking
//
// Layers are unpacked into their own directory, never into the merged view,
// so that they can be stacked as overlay lowerdirs. OCI whiteouts become
// overlayfs whiteouts at unpack time:
//
//	tar entry               on disk (layer dir)
//	a/.wh.b            -->  a/b        character device 0:0
//	a/.wh..wh..opq     -->  a/         xattr trusted.overlay.opaque=y
//	a/.wh..wh.<other>  -->  (skipped; aufs bookkeeping)
//
// Every path is resolved inside the layer directory with openat2
// (RESOLVE_IN_ROOT), so a symlink in the layer can never redirect a write
// outside it; entries whose names climb out with ".." are rejected with
// errdefs.ErrInvalidArgument. Ownership, permissions (including set-id
// bits), xattrs, mtimes, hardlinks, symlinks, devices and FIFOs are
// preserved. xattrs in the trusted.overlay namespace are dropped: they mean
// something to overlayfs (redirects, opaque dirs) and an image must not be
// able to set them except through whiteouts.
//
// # Mounting
//
//	containers/<id>/
//	  l/0 -> ../../../layers/sha256/<top diffID>    short names keep the
//	  l/1 -> ../../../layers/sha256/<...>           lowerdir option under a
//	  ...                                           page even for 200+ layers
//	  upper/   container writes
//	  work/    overlay scratch
//	  rootfs/  mount point: overlay lowerdir=0:1:..,upperdir=../upper,workdir=../work
//
// The mount(2) call runs on a locked OS thread that has unshared its
// filesystem attributes (CLONE_FS) and changed into containers/<id>/l, so the
// relative paths resolve there without touching the process's working
// directory (containerd resolves the same page-size limit the same way).
// Mounts are plain kernel state: they survive a restart of fargo, and
// Mounted, Unmount and Recover work on mounts made by an earlier process.
//
// # On-disk layout
//
//	<Root>/
//	  LOCK                                 flock: one Store per Root
//	  images/sha256/<hex>.json             Image record per resolved digest
//	  layers/sha256/<hex>/                 unpacked layer, named by diffID
//	  layers/tmp/                          unpacks in progress, GC victims
//	  containers/<id>/{l,upper,work,rootfs}
//
// # Errors
//
// Pull errors unwrap (errors.Is) to one errdefs class and to the underlying
// cause: ErrNotFound (unknown repository, tag, digest, or no manifest for
// the platform), ErrPermissionDenied (401/403), ErrLimitExceeded (429),
// ErrInvalidArgument (bad reference, malicious layer), ErrUnavailable
// (network, 5xx, corrupt data). The agent turns them into ECS's
// "CannotPullContainerError: ..." stop reasons.
package image
