package auth

import (
	"slices"
	"strings"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/page"
)

// The request and response bodies of the endpoints. RegisterRequest and
// LoginRequest are the domain's own (auth.go); JSON tags are the wire names
// of API.md.
type (
	loginMFARequest struct {
		MFAToken string `json:"mfa_token"`
		Code     string `json:"code"`
	}
	refreshRequest struct {
		RefreshToken string `json:"refresh_token"`
	}
	// codeRequest is the body of mfa/totp/enable and disable.
	codeRequest struct {
		Code string `json:"code"`
	}
	// setRolesRequest takes UserID from the path, never the body.
	setRolesRequest struct {
		UserID string   `json:"-"`
		Roles  []string `json:"roles"`
	}
	// listUsersRequest is an admin's user search: ?email=, ?role=, and
	// the page.
	listUsersRequest struct {
		Filter UserFilter
		Page   page.Request
	}
	// idRequest names a user, a session or an OAuth client by the path's
	// id.
	idRequest struct{ ID string }
	// emptyRequest is what routes without input decode.
	emptyRequest struct{}

	userResponse struct {
		User User `json:"user"`
	}
	// loginResponse is flat tokens, or {mfa_required: true, mfa_token}: a
	// nil embedded *Tokens contributes no fields.
	loginResponse struct {
		*Tokens
		MFARequired bool   `json:"mfa_required,omitempty"`
		MFAToken    string `json:"mfa_token,omitempty"`
	}
	recoveryCodesResponse struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
)

// fieldErrors collects every bad field of a request, so a client learns
// all of them from one 400.
type fieldErrors []errs.FieldError

func (f *fieldErrors) add(field, message string) {
	*f = append(*f, errs.FieldError{Field: field, Message: message})
}

// required trims *s in place and records field when nothing is left.
func (f *fieldErrors) required(field string, s *string) {
	*s = strings.TrimSpace(*s)
	if *s == "" {
		f.add(field, "is required")
	}
}

// err returns errs.Validation of the collected fields, or nil.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return errs.Validation(f...)
}

// validateRegister trims req's text fields and checks that they are
// there, and that role is not one a user may not choose. The password is
// used exactly as sent (never trimmed); its strength (weak_password), the
// email's form and the name's length are the service's rules.
func validateRegister(req *RegisterRequest) error {
	var f fieldErrors
	f.required("email", &req.Email)
	if req.Password == "" {
		f.add("password", "is required")
	}
	f.required("name", &req.Name)
	req.Role = strings.TrimSpace(req.Role)
	switch req.Role {
	case "", RoleStudent, RoleInstructor:
	default:
		// admin is granted only by another admin (PUT /users/{id}/roles).
		f.add("role", "must be student or instructor")
	}
	return f.err()
}

func validateLogin(req *LoginRequest) error {
	var f fieldErrors
	f.required("email", &req.Email)
	if req.Password == "" {
		f.add("password", "is required")
	}
	return f.err()
}

// validateChangePassword requires both passwords, used exactly as sent.
func validateChangePassword(req *ChangePasswordRequest) error {
	var f fieldErrors
	if req.CurrentPassword == "" {
		f.add("current_password", "is required")
	}
	if req.NewPassword == "" {
		f.add("new_password", "is required")
	}
	return f.err()
}

func (r *loginMFARequest) validate() error {
	var f fieldErrors
	f.required("mfa_token", &r.MFAToken)
	f.required("code", &r.Code)
	return f.err()
}

func (r *refreshRequest) validate() error {
	var f fieldErrors
	f.required("refresh_token", &r.RefreshToken)
	return f.err()
}

func (r *codeRequest) validate() error {
	var f fieldErrors
	f.required("code", &r.Code)
	return f.err()
}

// validate requires the roles field and trims each role; whether the
// list names known roles, and at least one, is the service's check
// (invalid_role).
func (r *setRolesRequest) validate() error {
	var f fieldErrors
	if r.Roles == nil {
		f.add("roles", "is required")
	}
	r.Roles = slices.Clone(r.Roles) // an in-process caller's slice stays its own
	for i := range r.Roles {
		r.Roles[i] = strings.TrimSpace(r.Roles[i])
	}
	return f.err()
}
