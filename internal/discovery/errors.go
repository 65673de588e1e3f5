package discovery

import (
	"fmt"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Kind is what went wrong, as Cloud Map names its errors. The API adapter
// maps each Kind to its error code, once.
type Kind int

// Kinds of errors.
const (
	KindInvalidInput Kind = iota + 1
	KindNamespaceNotFound
	KindServiceNotFound
	KindInstanceNotFound
	KindOperationNotFound
	KindCustomHealthNotFound
	KindResourceNotFound
	KindNamespaceAlreadyExists
	KindServiceAlreadyExists
	KindResourceInUse
	KindDuplicateRequest
	KindTooManyTags
	KindResourceLimitExceeded
	KindUnsupported
)

// Error is a Cloud Map error with the members its wire shape carries.
type Error struct {
	Kind    Kind
	Message string
	// The resource ids some shapes carry: NamespaceAlreadyExists
	// (NamespaceId, CreatorRequestId), ServiceAlreadyExists (ServiceId,
	// ServiceArn, CreatorRequestId), DuplicateRequest (OperationID),
	// TooManyTagsException (ResourceName).
	NamespaceID, ServiceID, ServiceARN, CreatorRequestID, OperationID, ResourceName string
}

func (e *Error) Error() string { return e.Message }

// Unwrap gives the errdefs class of the kind.
func (e *Error) Unwrap() error {
	switch e.Kind {
	case KindNamespaceNotFound, KindServiceNotFound, KindInstanceNotFound, KindOperationNotFound,
		KindCustomHealthNotFound, KindResourceNotFound:
		return errdefs.ErrNotFound
	case KindNamespaceAlreadyExists, KindServiceAlreadyExists:
		return errdefs.ErrAlreadyExists
	case KindResourceInUse, KindDuplicateRequest:
		return errdefs.ErrConflict
	case KindTooManyTags, KindResourceLimitExceeded:
		return errdefs.ErrLimitExceeded
	case KindUnsupported:
		return errdefs.ErrUnsupported
	}
	return errdefs.ErrInvalidArgument
}

func invalidf(format string, args ...any) error {
	return &Error{Kind: KindInvalidInput, Message: fmt.Sprintf(format, args...)}
}

func errNamespaceNotFound(id string) error {
	return &Error{Kind: KindNamespaceNotFound, Message: fmt.Sprintf("Namespace not found: %s", id)}
}

func errServiceNotFound(id string) error {
	return &Error{Kind: KindServiceNotFound, Message: fmt.Sprintf("Service not found: %s", id)}
}

func errInstanceNotFound(id string) error {
	return &Error{Kind: KindInstanceNotFound, Message: fmt.Sprintf("Instance not found: %s", id)}
}
