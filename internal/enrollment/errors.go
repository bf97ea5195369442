package enrollment

import (
	"errors"
	"strconv"
)

// ErrPermanent marks a failure that retrying cannot fix (unknown course, closed enrollment,
// invalid mode, bad SKU, no email, a rejected request). Errors without it are transient.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err so that IsPermanent reports true, keeping its message.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// IsPermanent reports whether err, or an error it wraps, is permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ErrOrderNotFound: the service has no record of the order.
var ErrOrderNotFound = errors.New("order not found")
