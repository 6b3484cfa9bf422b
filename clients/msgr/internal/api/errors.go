package api

import (
	"errors"
	"fmt"
)

// Error is an error answer of the server: {"error": {"code", "message"}} and its HTTP status.
type Error struct {
	Status     int    `json:"status"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	RetryAfter string `json:"retry_after,omitempty"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Code, e.Message)
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.RetryAfter != "" {
		s += fmt.Sprintf("; retry after %s s", e.RetryAfter)
	}
	return s
}

// Unauthorized reports whether the server refused the credentials of an authenticated call (401 other than a
// failed login), i.e. the session is gone and the user must log in again.
func (e *Error) Unauthorized() bool {
	return e.Status == 401 && e.Code != "invalid_credentials"
}

// UnreachableError means no answer came from the server (connection refused, DNS, timeout, TLS).
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the server at %s: %v", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ErrNotLoggedIn means there is no usable session: never logged in, logged out, or the session expired or was
// revoked.
var ErrNotLoggedIn = errors.New("not logged in")

// IsUnauthorized reports whether err is a 401 of an authenticated call or ErrNotLoggedIn.
func IsUnauthorized(err error) bool {
	var ae *Error
	if errors.As(err, &ae) && ae.Unauthorized() {
		return true
	}
	return errors.Is(err, ErrNotLoggedIn)
}
