package errdefs

import (
	"errors"
	"syscall"
)

// transientErrnos are the kernel's "not now" answers: out of file
// descriptors (EMFILE, ENFILE), of memory or buffers, try again.
var transientErrnos = []syscall.Errno{
	syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.EAGAIN, syscall.ENOBUFS, syscall.EINTR,
}

// IsTransient reports whether err means "could not look now" rather than
// an answer: a caller must retry, never conclude (issue 17: fargo out of
// file descriptors reported a healthy container as exited).
func IsTransient(err error) bool {
	for _, e := range transientErrnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
