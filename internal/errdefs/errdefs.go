// Package errdefs defines the few classes of error that fargo's domain
// packages return. Each wire boundary (the AWS protocols, the OCI registry
// API) maps these classes to its own codes exactly once, with errors.Is;
// nothing ever matches on an error's text. The node protocol is in-process
// (the agent calls control directly), so its errors stay Go values.
//
// A domain error carries the message a user should read and unwraps to its
// class:
//
//	var ErrClusterNotFound = errdefs.New(errdefs.ErrNotFound, "Cluster not found.")
//	return errdefs.Invalidf("Invalid setting for container '%s'.", name)
package errdefs

import (
	"errors"
	"fmt"
)

// The error classes.
var (
	ErrInvalidArgument  = errors.New("invalid argument")
	ErrNotFound         = errors.New("not found")
	ErrAlreadyExists    = errors.New("already exists")
	ErrConflict         = errors.New("conflict")
	ErrUnavailable      = errors.New("unavailable")
	ErrPermissionDenied = errors.New("permission denied")
	ErrLimitExceeded    = errors.New("limit exceeded")
	ErrUnsupported      = errors.New("unsupported")
)

// Error is a user-facing message that belongs to a class (or to a more
// specific sentinel that itself belongs to a class).
type Error struct {
	msg   string
	class error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the class (or sentinel) the error belongs to.
func (e *Error) Unwrap() error { return e.class }

// New returns an error with message msg that errors.Is class.
func New(class error, msg string) error { return &Error{msg: msg, class: class} }

// Newf is New with a format.
func Newf(class error, format string, args ...any) error {
	return &Error{msg: fmt.Sprintf(format, args...), class: class}
}

// Invalidf returns an ErrInvalidArgument with a formatted message.
func Invalidf(format string, args ...any) error { return Newf(ErrInvalidArgument, format, args...) }

// NotFoundf returns an ErrNotFound with a formatted message.
func NotFoundf(format string, args ...any) error { return Newf(ErrNotFound, format, args...) }

// AlreadyExistsf returns an ErrAlreadyExists with a formatted message.
func AlreadyExistsf(format string, args ...any) error {
	return Newf(ErrAlreadyExists, format, args...)
}

// Conflictf returns an ErrConflict with a formatted message.
func Conflictf(format string, args ...any) error { return Newf(ErrConflict, format, args...) }

// Message returns the user-facing message of err: the message of the
// outermost *Error in its chain, or err.Error() when there is none.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.msg
	}
	return err.Error()
}
