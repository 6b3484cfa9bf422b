// Package rules is how the services' domains say that a request broke one of their rules: a Violation with
// the contract's error code and a message for the user. It knows nothing about HTTP, so domains stay free of
// it; apierr.Respond answers a Violation with 400 and its code.
package rules

// Violation is a rule the caller broke and can fix; Code is the contract's error code ("invalid_nickname").
type Violation struct {
	Code    string
	Message string
}

// New is the violation of the rule with that code. Compare with errors.As (a *Violation), or with errors.Is
// against a violation kept in a variable.
func New(code, message string) *Violation { return &Violation{Code: code, Message: message} }

func (v *Violation) Error() string { return v.Code + ": " + v.Message }
