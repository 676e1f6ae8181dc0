package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/page"
)

// OAuthEndpoints holds one go-kit endpoint per OAuth route.
type OAuthEndpoints struct {
	RegisterClientEndpoint     endpoint.Endpoint
	ListClientsEndpoint        endpoint.Endpoint
	GetClientEndpoint          endpoint.Endpoint
	UpdateClientEndpoint       endpoint.Endpoint
	RotateClientSecretEndpoint endpoint.Endpoint
	DeleteClientEndpoint       endpoint.Endpoint
	AuthorizeEndpoint          endpoint.Endpoint // GET: the sign-in page
	AuthorizeSubmitEndpoint    endpoint.Endpoint // POST: the page's steps
	TokenEndpoint              endpoint.Endpoint
	IntrospectEndpoint         endpoint.Endpoint
	RevokeEndpoint             endpoint.Endpoint
	UserInfoEndpoint           endpoint.Endpoint
}

// MakeOAuthEndpoints returns s's OAuth endpoints, each wrapped in
// kit.Chain: the client routes (register, list, get, update, rotate the
// secret, delete) need the admin role; userinfo a user token
// (a service token has no user role and is refused); the authorization,
// token, introspection and revocation endpoints are public (no JWT step):
// they authenticate users by the page and clients by their credentials.
// m may be nil (no metrics).
func MakeOAuthEndpoints(s OAuth, logger log.Logger, m *kit.Metrics, v *kit.Verifier) OAuthEndpoints {
	public := func(name string, ep endpoint.Endpoint) endpoint.Endpoint {
		return kit.Chain(logger, m, kit.Spec{Name: name})(ep)
	}
	admin := func(name string, ep endpoint.Endpoint) endpoint.Endpoint {
		return kit.Chain(logger, m, kit.Spec{Name: name, Verifier: v, Roles: []string{RoleAdmin}})(ep)
	}
	// A change to a client's credentials or reach is logged at info level,
	// for the operators' audit trail.
	changes := func(name string, ep endpoint.Endpoint) endpoint.Endpoint {
		return admin(name, auditClientChange(logger, name)(ep))
	}
	return OAuthEndpoints{
		RegisterClientEndpoint:     changes("register_client", makeRegisterClientEndpoint(s)),
		ListClientsEndpoint:        admin("list_clients", makeListClientsEndpoint(s)),
		GetClientEndpoint:          admin("get_client", makeGetClientEndpoint(s)),
		UpdateClientEndpoint:       changes("update_client", makeUpdateClientEndpoint(s)),
		RotateClientSecretEndpoint: changes("rotate_client_secret", makeRotateClientSecretEndpoint(s)),
		DeleteClientEndpoint:       changes("delete_client", makeDeleteClientEndpoint(s)),
		AuthorizeEndpoint:          public("oauth_authorize", makeAuthorizeEndpoint(s)),
		AuthorizeSubmitEndpoint:    public("oauth_authorize_submit", makeAuthorizeSubmitEndpoint(s)),
		TokenEndpoint:              public("oauth_token", makeTokenEndpoint(s)),
		IntrospectEndpoint:         public("oauth_introspect", makeIntrospectEndpoint(s)),
		RevokeEndpoint:             public("oauth_revoke", makeRevokeEndpoint(s)),
		UserInfoEndpoint:           kit.Chain(logger, m, kit.Spec{Name: "oauth_userinfo", Verifier: v, Roles: userRoles})(makeUserInfoEndpoint(s)),
	}
}

// auditClientChange logs each successful call of the client-changing
// endpoint name at info level: which admin did what to which client (never
// a secret), with the request id.
func auditClientChange(logger log.Logger, name string) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			response, err := next(ctx, request)
			if err != nil {
				return response, err
			}
			var client string
			switch r := request.(type) {
			case idRequest:
				client = r.ID
			case updateClientRequest:
				client = r.ID
			}
			if creds, ok := response.(ClientCredentials); ok {
				client = creds.ClientID
			}
			c, _ := kit.ClaimsFrom(ctx)
			_ = level.Info(logging.With(ctx, logger)).Log("msg", "oauth client changed", "action", name,
				"client_id", client, "admin", c.Subject)
			return response, nil
		}
	}
}

// Requests and responses of the OAuth endpoints.
type (
	// authorizeSubmitRequest is one step of the sign-in page: "login"
	// (email, password), "mfa" (mfa_token, code) or "consent"
	// (consent_token, decision allow or deny).
	authorizeSubmitRequest struct {
		Step         string
		Request      AuthorizationRequest
		Email        string
		Password     string
		ClientIP     string
		MFAToken     string
		Code         string
		ConsentToken string
		Decision     string
	}
	// clientTokenRequest is an introspection or revocation.
	clientTokenRequest struct {
		Client ClientAuth
		Token  string
		Hint   string
	}
	// authorizePage is a step of the sign-in page to show: "login", "mfa"
	// or "consent", with a message when the last attempt failed.
	authorizePage struct {
		Step string
		Authorization
		Email        string
		MFAToken     string
		ConsentToken string
		Message      string
		Status       int           // 0 is 200
		RetryAfter   time.Duration // with Status 429
	}
	// revoked is the revocation endpoint's empty 200.
	revoked struct{}
)

// StatusCode makes httpx.EncodeJSON answer 201 for a new client.
func (ClientCredentials) StatusCode() int { return http.StatusCreated }

// The admin's views of registered clients.
type (
	// updateClientRequest is a PATCH: the path's client, the body's update.
	updateClientRequest struct {
		ID     string
		Update ClientUpdate
	}
	// clientInfo is a registered client as the admin routes show it: never
	// its secret, which only registration and rotation show, once.
	clientInfo struct {
		ID           string   `json:"id"`
		Name         string   `json:"name"`
		RedirectURIs []string `json:"redirect_uris"`
		GrantTypes   []string `json:"grant_types"`
		Scopes       []string `json:"scopes"`
		// Public is a client without a secret (token_endpoint_auth_method
		// none at registration).
		Public          bool       `json:"public"`
		CreatedBy       string     `json:"created_by,omitempty"`
		CreatedAt       time.Time  `json:"created_at"`
		SecretRotatedAt *time.Time `json:"secret_rotated_at,omitempty"`
	}
	clientResponse struct {
		Client clientInfo `json:"client"`
	}
	// rotatedSecret is ClientCredentials answered 200: the client is not
	// new.
	rotatedSecret ClientCredentials
)

// infoOf is c as the admin routes show it; its lists are never null.
func infoOf(c Client) clientInfo {
	ci := clientInfo{
		ID: c.ID, Name: c.Name, RedirectURIs: nonNil(c.RedirectURIs), GrantTypes: nonNil(c.GrantTypes),
		Scopes: nonNil(c.Scopes), Public: c.Public(), CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt,
	}
	if !c.SecretRotatedAt.IsZero() {
		at := c.SecretRotatedAt
		ci.SecretRotatedAt = &at
	}
	return ci
}

func makeListClientsEndpoint(s OAuth) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		p, err := s.ListClients(ctx, request.(page.Request))
		if err != nil {
			return nil, err
		}
		out := page.Page[clientInfo]{Items: make([]clientInfo, len(p.Items)), NextCursor: p.NextCursor}
		for i, c := range p.Items {
			out.Items[i] = infoOf(c)
		}
		return out, nil
	}
}

func makeGetClientEndpoint(s OAuth) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		c, err := s.GetClient(ctx, request.(idRequest).ID)
		if err != nil {
			return nil, err
		}
		return clientResponse{Client: infoOf(c)}, nil
	}
}

func makeUpdateClientEndpoint(s OAuth) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(updateClientRequest)
		c, err := s.UpdateClient(ctx, req.ID, req.Update)
		if err != nil {
			return nil, err
		}
		return clientResponse{Client: infoOf(c)}, nil
	}
}

func makeRotateClientSecretEndpoint(s OAuth) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		creds, err := s.RotateClientSecret(ctx, request.(idRequest).ID)
		if err != nil {
			return nil, err
		}
		return rotatedSecret(creds), nil
	}
}

func makeDeleteClientEndpoint(s OAuth) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		if err := s.DeleteClient(ctx, request.(idRequest).ID); err != nil {
			return nil, err
		}
		return httpx.NoContent{}, nil
	}
}

func makeRegisterClientEndpoint(s OAuth) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(ClientRequest)
		req.AdminID = c.Subject
		return s.RegisterClient(ctx, req)
	}
}

func makeAuthorizeEndpoint(s OAuth) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		az, err := s.Authorize(ctx, request.(AuthorizationRequest))
		if err != nil {
			return nil, err
		}
		return authorizePage{Step: "login", Authorization: az}, nil
	}
}

// makeAuthorizeSubmitEndpoint runs a step of the page. What the user can
// fix (a wrong password or code) shows the step again with a message;
// what the client must learn is a *RedirectError; the rest is an error
// page.
func makeAuthorizeSubmitEndpoint(s OAuth) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(authorizeSubmitRequest)
		switch req.Step {
		case "login":
			return signInStep(ctx, s, req)
		case "mfa":
			return mfaStep(ctx, s, req)
		case "consent":
			if req.Decision != "allow" && req.Decision != "deny" {
				return nil, ErrOAuthInvalidRequest.WithMessage("decision must be allow or deny")
			}
			return s.Consent(ctx, req.ConsentToken, req.Decision == "allow")
		default:
			return nil, ErrOAuthInvalidRequest.WithMessage("unknown step")
		}
	}
}

func signInStep(ctx context.Context, s OAuth, req authorizeSubmitRequest) (any, error) {
	res, err := s.SignIn(ctx, req.Request, LoginRequest{Email: req.Email, Password: req.Password, ClientIP: req.ClientIP})
	if err == nil {
		return nextPage(res), nil
	}
	var limited *RateLimitedError
	page := authorizePage{Step: "login", Email: req.Email}
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		page.Message = "The email or password is wrong."
	case errors.As(err, &limited):
		page.Message = "Too many sign-in attempts. Wait a while, then try again."
		page.Status, page.RetryAfter = http.StatusTooManyRequests, limited.After
	default:
		return nil, err
	}
	if page.Authorization, err = s.Authorize(ctx, req.Request); err != nil {
		return nil, err
	}
	return page, nil
}

func mfaStep(ctx context.Context, s OAuth, req authorizeSubmitRequest) (any, error) {
	res, err := s.SignInMFA(ctx, req.Request, req.MFAToken, req.Code)
	if err == nil {
		return nextPage(res), nil
	}
	var page authorizePage
	switch {
	case errors.Is(err, ErrInvalidCode):
		page = authorizePage{Step: "mfa", MFAToken: req.MFAToken, Message: "The code is wrong or was already used."}
	case errors.Is(err, ErrInvalidMFAToken):
		page = authorizePage{Step: "login", Message: "Your sign-in expired or had too many wrong codes. Sign in again."}
	default:
		return nil, err
	}
	if page.Authorization, err = s.Authorize(ctx, req.Request); err != nil {
		return nil, err
	}
	return page, nil
}

// nextPage is the step after a successful sign-in step.
func nextPage(res SignInResult) authorizePage {
	if res.MFAToken != "" {
		return authorizePage{Step: "mfa", Authorization: res.Authorization, MFAToken: res.MFAToken}
	}
	return authorizePage{Step: "consent", Authorization: res.Authorization, ConsentToken: res.ConsentToken}
}

func makeTokenEndpoint(s OAuth) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		return s.Token(ctx, request.(TokenRequest))
	}
}

func makeIntrospectEndpoint(s OAuth) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(clientTokenRequest)
		return s.Introspect(ctx, req.Client, req.Token, req.Hint)
	}
}

func makeRevokeEndpoint(s OAuth) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(clientTokenRequest)
		if err := s.Revoke(ctx, req.Client, req.Token, req.Hint); err != nil {
			return nil, err
		}
		return revoked{}, nil
	}
}

func makeUserInfoEndpoint(s OAuth) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		if c.IsService() {
			return nil, kit.ErrForbidden.WithMessage("the token was issued to a client, not for a user")
		}
		return s.UserInfo(ctx, c)
	}
}
