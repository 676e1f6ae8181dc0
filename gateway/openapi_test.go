package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/page"
	"github.com/getkin/kin-openapi/openapi3"
)

// ownRoutes are the gateway's own operations, with what they need.
var ownRoutes = []Route{
	{http.MethodGet, PathDashboard, "gateway", User, ClassAnonymous},
	{http.MethodGet, PathOpenAPI, "gateway", Public, ClassAnonymous},
	{http.MethodGet, PathDocs, "gateway", Public, ClassAnonymous},
}

// loadDoc reads the served document into the model the reference page
// is rendered from, and its operations by "METHOD path".
func loadDoc(t *testing.T) (*oaDoc, map[string]oaOperation) {
	t.Helper()
	var d oaDoc
	if err := json.Unmarshal(OpenAPIJSON(), &d); err != nil {
		t.Fatalf("read the OpenAPI document: %v", err)
	}
	ops := map[string]oaOperation{}
	err := d.eachOperation(func(method, path string, op oaOperation, _ []*oaParameter) { ops[method+" "+path] = op })
	if err != nil {
		t.Fatal(err)
	}
	return &d, ops
}

// operation returns the operation for method and path, failing t when
// there is none.
func operation(t *testing.T, ops map[string]oaOperation, method, path string) oaOperation {
	t.Helper()
	op, ok := ops[method+" "+path]
	if !ok {
		t.Fatalf("%s %s is not in the document", method, path)
	}
	return op
}

// parameter returns the operation's parameter in and named name, resolved.
func parameter(d *oaDoc, op oaOperation, in, name string) (oaParameter, bool) {
	for _, p := range op.Parameters {
		if r := d.parameter(p); r.In == in && r.Name == name {
			return r, true
		}
	}
	return oaParameter{}, false
}

// rawDoc returns the served document as plain JSON values.
func rawDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(OpenAPIJSON(), &doc); err != nil {
		t.Fatalf("OpenAPIJSON is not JSON: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentIsComplete(t *testing.T) {
	doc := rawDoc(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("got openapi %v, want 3.1.0", doc["openapi"])
	}
	if _, ok := doc["security"]; ok {
		t.Error("the document sets security for every operation; want each operation to say its own")
	}
	d, _ := loadDoc(t)
	for _, conv := range []string{"## Pagination", "## Idempotency", "## Errors", "## Rate limits", "## Money", "minor units", "Idempotent-Replayed", "RateLimit-Reset", "Retry-After", "X-Request-ID"} {
		if !strings.Contains(d.Info.Description, conv) {
			t.Errorf("info.description does not cover %q", conv)
		}
	}
	bearer := d.Components.SecuritySchemes["bearerAuth"]
	if bearer.Type != "http" || bearer.Scheme != "bearer" {
		t.Errorf("got bearerAuth %+v, want an http bearer scheme", bearer)
	}
	var schemes map[string]map[string]any
	b, _ := json.Marshal(doc["components"].(map[string]any)["securitySchemes"])
	if err := json.Unmarshal(b, &schemes); err != nil || schemes["bearerAuth"]["bearerFormat"] != "JWT" {
		t.Errorf("got bearerAuth %v, want bearerFormat JWT", schemes["bearerAuth"])
	}
}

// TestOpenAPIRefsResolve checks every $ref of the document names a
// component that exists.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := rawDoc(t)
	components := doc["components"].(map[string]any)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				kind, name, ok := strings.Cut(strings.TrimPrefix(ref, "#/components/"), "/")
				group, _ := components[kind].(map[string]any)
				if !strings.HasPrefix(ref, "#/components/") || !ok || group[name] == nil {
					t.Errorf("%s: $ref %q names nothing", path, ref)
				}
			}
			for k, e := range v {
				walk(path+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(path+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("#", doc)
}

func TestOpenAPIOperationsAreExactlyTheRoutes(t *testing.T) {
	_, ops := loadDoc(t)
	want := map[string]bool{}
	for _, r := range append(slices.Clone(Routes), ownRoutes...) {
		want[r.Method+" "+r.Path] = true
	}
	for k := range want {
		if _, ok := ops[k]; !ok {
			t.Errorf("route %s is not in the document", k)
		}
	}
	for k := range ops {
		if !want[k] {
			t.Errorf("the document has %s, which is neither in Routes nor one of the gateway's own", k)
		}
	}
}

func TestOpenAPISecurityMatchesAccess(t *testing.T) {
	_, ops := loadDoc(t)
	for _, r := range append(slices.Clone(Routes), ownRoutes...) {
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			reqs := operation(t, ops, r.Method, r.Path).Security
			anonymous, bearer := false, false
			for _, req := range reqs {
				if len(req) == 0 {
					anonymous = true
				}
				if _, ok := req["bearerAuth"]; ok {
					bearer = true
				}
			}
			switch r.Access {
			case User:
				if len(reqs) != 1 || !bearer {
					t.Errorf("got security %v, want exactly [{bearerAuth: []}]", reqs)
				}
			case OptionalUser:
				if len(reqs) != 2 || !bearer || !anonymous {
					t.Errorf("got security %v, want [{}, {bearerAuth: []}]", reqs)
				}
			case Public:
				if bearer || (len(reqs) > 0 && !anonymous) {
					t.Errorf("got security %v, want none, or alternatives that include anonymous and never a bearer token", reqs)
				}
			}
		})
	}
}

func TestOpenAPIOperationsAreDescribed(t *testing.T) {
	d, ops := loadDoc(t)
	tags := map[string]bool{}
	for _, tag := range d.Tags {
		tags[tag.Name] = true
	}
	ids := map[string]string{}
	for _, r := range append(slices.Clone(Routes), ownRoutes...) {
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			op := operation(t, ops, r.Method, r.Path)
			if op.OperationID == "" {
				t.Error("no operationId")
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %q is also %s's", op.OperationID, other)
			}
			ids[op.OperationID] = r.Method + " " + r.Path
			if op.Summary == "" {
				t.Error("no summary")
			}
			if len(op.Tags) != 1 || !tags[op.Tags[0]] {
				t.Errorf("got tags %v, want one of the document's tags", op.Tags)
			}
			if op.Service != r.Service {
				t.Errorf("got x-azora-service %q, want %s", op.Service, r.Service)
			}
			if op.RateClass != string(r.Class) {
				t.Errorf("got x-azora-rate-class %q, want %s", op.RateClass, r.Class)
			}
			success, problem := false, false
			for status, ref := range op.Responses {
				code, err := strconv.Atoi(status)
				if err != nil {
					t.Errorf("response %q: want a status code", status)
					continue
				}
				resp, desc := d.response(ref)
				if desc == "" {
					t.Errorf("response %s has no description", status)
				}
				if code >= 200 && code < 400 {
					success = true
				}
				if code >= 200 && code < 300 {
					for _, h := range []string{"X-Request-ID", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
						if resp.Headers[h] == nil {
							t.Errorf("response %s lacks the %s header", status, h)
						}
					}
				}
				if code >= 400 {
					if mt, ok := resp.Content["application/problem+json"]; ok && mt.Schema != nil && mt.Schema.Ref == "#/components/schemas/Problem" {
						problem = true
					}
					if resp.Headers["X-Request-ID"] == nil {
						t.Errorf("response %s lacks the X-Request-ID header", status)
					}
				}
				if code == http.StatusTooManyRequests && resp.Headers["Retry-After"] == nil {
					t.Errorf("response 429 lacks Retry-After")
				}
			}
			if !success {
				t.Error("no 2xx or 3xx response")
			}
			if !problem {
				t.Error("no 4xx/5xx response answered as an application/problem+json Problem")
			}
			if op.Responses["429"] == nil {
				t.Error("no 429 response, though every route is rate limited")
			}
			if r.Access != Public {
				unauth, ok := op.Responses["401"]
				if !ok {
					t.Error("a route that checks tokens needs a 401 response")
				} else if resp, _ := d.response(unauth); resp.Headers["WWW-Authenticate"] == nil {
					t.Error("the 401 response lacks WWW-Authenticate")
				}
			}
			if op.RequestBody != nil && op.Responses["413"] == nil {
				t.Error("a route with a body needs a 413 response")
			}
			if r.Service != "gateway" {
				for _, status := range []string{"502", "503", "504"} {
					if op.Responses[status] == nil {
						t.Errorf("a forwarded route needs a %s response (the proxy's)", status)
					}
				}
			}
		})
	}
}

// TestOpenAPIErrorCodes checks that each error code API.md and the
// services answer is listed under its operation's status.
func TestOpenAPIErrorCodes(t *testing.T) {
	d, ops := loadDoc(t)
	tests := []struct {
		method, path string
		status       int
		codes        []string
	}{
		{http.MethodPost, auth.PathRegister, 409, []string{"email_taken"}},
		{http.MethodPost, auth.PathRegister, 400, []string{"weak_password", "validation_failed"}},
		{http.MethodPost, auth.PathLogin, 401, []string{"invalid_credentials"}},
		{http.MethodPost, auth.PathLogin, 429, []string{"rate_limited"}},
		{http.MethodPost, auth.PathLoginMFA, 401, []string{"invalid_mfa_token", "invalid_code"}},
		{http.MethodPost, auth.PathRefresh, 401, []string{"refresh_token_reused", "invalid_refresh_token"}},
		{http.MethodPost, auth.PathTOTPSetup, 409, []string{"mfa_already_enabled"}},
		{http.MethodPost, auth.PathTOTPEnable, 409, []string{"mfa_not_set_up", "mfa_already_enabled"}},
		{http.MethodPost, auth.PathTOTPDisable, 409, []string{"mfa_not_enabled"}},
		{http.MethodPost, auth.PathPassword, 400, []string{"validation_failed", "weak_password"}},
		{http.MethodPost, auth.PathPassword, 403, []string{"wrong_password", "forbidden"}},
		{http.MethodPost, auth.PathPassword, 429, []string{"rate_limited"}},
		{http.MethodGet, auth.PathSessions, 400, []string{"validation_failed", "invalid_cursor"}},
		{http.MethodDelete, auth.PathSession, 404, []string{"session_not_found"}},
		{http.MethodGet, auth.PathUsers, 400, []string{"invalid_role", "validation_failed", "invalid_cursor"}},
		{http.MethodGet, auth.PathUser, 404, []string{"user_not_found"}},
		{http.MethodPut, auth.PathUserRoles, 400, []string{"invalid_role"}},
		{http.MethodPut, auth.PathUserRoles, 404, []string{"user_not_found"}},
		{http.MethodPost, auth.PathClients, 400, []string{"validation_failed", "unknown_field"}},
		{http.MethodPost, auth.PathClients, 403, []string{"forbidden"}},
		{http.MethodGet, auth.PathClients, 400, []string{"validation_failed", "invalid_cursor"}},
		{http.MethodGet, auth.PathClient, 404, []string{"client_not_found"}},
		{http.MethodPatch, auth.PathClient, 400, []string{"validation_failed", "unknown_field"}},
		{http.MethodPatch, auth.PathClient, 404, []string{"client_not_found"}},
		{http.MethodDelete, auth.PathClient, 404, []string{"client_not_found"}},
		{http.MethodPost, auth.PathClientSecret, 404, []string{"client_not_found"}},
		{http.MethodPost, auth.PathClientSecret, 409, []string{"client_is_public"}},
		{http.MethodGet, auth.PathAuthorize, 302, []string{"invalid_request", "unsupported_response_type", "unauthorized_client", "invalid_scope"}},
		{http.MethodPost, auth.PathAuthorize, 303, []string{"access_denied", "invalid_request", "unsupported_response_type", "unauthorized_client", "invalid_scope"}},
		{http.MethodPost, auth.PathToken, 400, []string{"invalid_request", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope"}},
		{http.MethodPost, auth.PathToken, 401, []string{"invalid_client"}},
		{http.MethodPost, auth.PathToken, 500, []string{"server_error"}},
		{http.MethodPost, auth.PathToken, 503, []string{"temporarily_unavailable"}},
		{http.MethodPost, auth.PathIntrospect, 400, []string{"invalid_request"}},
		{http.MethodPost, auth.PathIntrospect, 401, []string{"invalid_client"}},
		{http.MethodPost, auth.PathRevoke, 400, []string{"invalid_request"}},
		{http.MethodPost, auth.PathRevoke, 401, []string{"invalid_client"}},
		{http.MethodGet, auth.PathUserInfo, 401, []string{"missing_token", "invalid_token"}},
		{http.MethodGet, auth.PathUserInfo, 403, []string{"forbidden", "insufficient_scope"}},
		{http.MethodGet, auth.PathUserInfo, 404, []string{"user_not_found"}},
		{http.MethodGet, education.PathCourse, 404, []string{"course_not_found"}},
		{http.MethodPatch, education.PathCourse, 403, []string{"forbidden"}},
		{http.MethodDelete, education.PathCourse, 409, []string{"course_published"}},
		{http.MethodDelete, education.PathCourse, 404, []string{"course_not_found"}},
		{http.MethodPatch, education.PathCourseLesson, 404, []string{"course_not_found", "lesson_not_found"}},
		{http.MethodPatch, education.PathCourseLesson, 400, []string{"validation_failed"}},
		{http.MethodPost, education.PathCoursePublish, 422, []string{"course_has_no_lessons"}},
		{http.MethodPost, education.PathCourseEnrollments, 409, []string{"already_enrolled", "own_course", "idempotency_in_progress"}},
		{http.MethodPost, education.PathCourseEnrollments, 422, []string{"idempotency_key_reused"}},
		{http.MethodGet, education.PathEnrollment, 404, []string{"enrollment_not_found"}},
		{http.MethodPost, education.PathCompleteLesson, 409, []string{"enrollment_not_active"}},
		{http.MethodPost, education.PathCompleteLesson, 404, []string{"enrollment_not_found", "lesson_not_found"}},
		{http.MethodGet, education.PathCertificate, 404, []string{"certificate_not_found"}},
		{http.MethodGet, finance.PathWallet, 404, []string{"wallet_not_found"}},
		{http.MethodPost, finance.PathTransfers, 409, []string{"insufficient_funds", "idempotency_in_progress"}},
		{http.MethodPost, finance.PathTransfers, 422, []string{"currency_mismatch", "idempotency_key_reused"}},
		{http.MethodPost, finance.PathTransfers, 400, []string{"validation_failed", "same_wallet", "idempotency_key_required"}},
		{http.MethodPost, finance.PathWalletTopups, 422, []string{"currency_mismatch", "card_declined"}},
		{http.MethodPost, finance.PathWalletTopups, 503, []string{"payment_provider_unavailable"}},
		{http.MethodPost, finance.PathTopupRefund, 409, []string{"topup_not_refundable", "insufficient_funds"}},
		{http.MethodPost, finance.PathTopupRefund, 404, []string{"topup_not_found"}},
		{http.MethodPost, finance.PathStripeWebhook, 400, []string{"invalid_signature"}},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path+" "+strconv.Itoa(tc.status), func(t *testing.T) {
			ref := operation(t, ops, tc.method, tc.path).Responses[strconv.Itoa(tc.status)]
			if ref == nil {
				t.Fatalf("no %d response", tc.status)
			}
			_, desc := d.response(ref)
			for _, code := range tc.codes {
				if !strings.Contains(desc, "`"+code+"`") {
					t.Errorf("the %d response does not name `%s`: %q", tc.status, code, desc)
				}
			}
		})
	}
}

func TestOpenAPIIdempotencyKeys(t *testing.T) {
	d, ops := loadDoc(t)
	keyed := map[string]bool{ // path of a POST → whether the key is required
		finance.PathTransfers:           true,
		finance.PathWalletTopups:        true,
		finance.PathTopupRefund:         true,
		education.PathCourseEnrollments: false,
	}
	for path, required := range keyed {
		t.Run(path, func(t *testing.T) {
			op := operation(t, ops, http.MethodPost, path)
			p, ok := parameter(d, op, "header", "Idempotency-Key")
			if !ok {
				t.Fatal("no Idempotency-Key header parameter")
			}
			if p.Required != required {
				t.Errorf("got required %v, want %v", p.Required, required)
			}
			for status, ref := range op.Responses {
				if resp, _ := d.response(ref); strings.HasPrefix(status, "2") && resp.Headers["Idempotent-Replayed"] == nil {
					t.Errorf("response %s lacks Idempotent-Replayed", status)
				}
			}
			for status, code := range map[string]string{"409": "idempotency_in_progress", "422": "idempotency_key_reused"} {
				ref := op.Responses[status]
				if ref == nil {
					t.Errorf("no %s response", status)
					continue
				}
				if _, desc := d.response(ref); !strings.Contains(desc, "`"+code+"`") {
					t.Errorf("the %s response does not name `%s`", status, code)
				}
			}
		})
	}
	// No other route takes a key: the services wrap exactly these.
	for key, op := range ops {
		method, path, _ := strings.Cut(key, " ")
		if _, ok := parameter(d, op, "header", "Idempotency-Key"); ok {
			if _, known := keyed[path]; method != http.MethodPost || !known {
				t.Errorf("%s takes an Idempotency-Key, which its service does not honour", key)
			}
		}
	}
}

func TestOpenAPIListsArePaginated(t *testing.T) {
	d, ops := loadDoc(t)
	limit := d.Components.Parameters["Limit"].Schema
	if limit.Minimum == nil || *limit.Minimum != 1 || limit.Maximum == nil || *limit.Maximum != page.MaxLimit || limit.Default != float64(page.DefaultLimit) {
		t.Errorf("got limit schema %+v, want 1..%d default %d", limit, page.MaxLimit, page.DefaultLimit)
	}
	for _, path := range []string{education.PathCourses, education.PathEnrollments, education.PathCertificates, finance.PathWallets, finance.PathWalletTransactions} {
		op := operation(t, ops, http.MethodGet, path)
		for _, name := range []string{"limit", "cursor"} {
			if _, ok := parameter(d, op, "query", name); !ok {
				t.Errorf("GET %s lacks ?%s=", path, name)
			}
		}
		resp, _ := d.response(op.Responses["200"])
		schema := d.resolve(resp.Content["application/json"].Schema)
		if len(schema.AllOf) != 2 || schema.AllOf[0].Ref != "#/components/schemas/Page" {
			t.Errorf("GET %s: want its 200 to be the Page envelope", path)
		}
	}
}

// TestOpenAPISchemasMatchGoTypes compares the document's schemas with the
// Go types the services encode and decode: the same JSON names and, for
// what the services answer, required exactly when never omitted.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	d, _ := loadDoc(t)
	strict := map[string]bool{} // schemas with additionalProperties: false
	for name, s := range rawDoc(t)["components"].(map[string]any)["schemas"].(map[string]any) {
		strict[name] = s.(map[string]any)["additionalProperties"] == false
	}
	tests := []struct {
		schema string
		value  any
		// answered: the type is a response, so fields without omitempty
		// are required; otherwise a request, decoded strictly.
		answered bool
		// extra: the schema may document more (optional) members.
		extra bool
	}{
		{"User", auth.User{}, true, false},
		{"Tokens", auth.Tokens{}, true, false},
		{"TOTPSetup", auth.TOTPSetup{}, true, false},
		{"JWKS", auth.JWKS{}, true, false},
		{"JWK", auth.JWK{}, true, false},
		{"Discovery", auth.Discovery{}, true, false},
		{"OAuthClientCredentials", auth.ClientCredentials{}, true, false},
		{"OAuthTokenResponse", auth.TokenResponse{}, true, false},
		{"IntrospectionResponse", auth.Introspection{}, true, false},
		{"UserInfo", auth.UserInfo{}, true, false},
		{"Course", education.Course{}, true, false},
		{"Lesson", education.Lesson{}, true, false},
		{"Progress", education.Progress{}, true, false},
		{"Enrollment", education.Enrollment{}, true, false},
		{"Certificate", education.Certificate{}, true, false},
		{"Verification", education.Verification{}, true, false},
		{"CertificateKeySet", education.KeySet{}, true, false},
		{"CertificateKey", education.PublicKey{}, true, false},
		{"Money", education.Money{}, true, false},
		{"Money", finance.Money{}, true, false},
		{"Wallet", finance.Wallet{}, true, false},
		{"Entry", finance.Entry{}, true, false},
		{"Transfer", finance.Transfer{}, true, false},
		{"Topup", finance.Topup{}, true, false},
		{"Problem", httpx.Problem{}, true, false},
		{"FieldError", errs.FieldError{}, true, false},
		{"Page", page.Page[finance.Wallet]{}, true, false},
		{"Dashboard", Dashboard{}, true, false},
		{"RegisterRequest", auth.RegisterRequest{}, false, false},
		{"LoginRequest", auth.LoginRequest{}, false, false},
		{"OAuthClientRequest", auth.ClientRequest{}, false, false},
		{"CourseInput", education.CourseInput{}, false, false},
		{"LessonInput", education.LessonInput{}, false, false},
		{"TransferRequest", finance.TransferRequest{}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.schema+" "+reflect.TypeOf(tc.value).String(), func(t *testing.T) {
			s := d.Components.Schemas[tc.schema]
			if s == nil {
				t.Fatal("no such schema")
			}
			names, always := jsonFields(reflect.TypeOf(tc.value))
			props := slices.Sorted(maps.Keys(s.Properties))
			for _, n := range names {
				if !slices.Contains(props, n) {
					t.Errorf("the Go type has %q, the schema does not", n)
				}
			}
			if !tc.extra {
				for _, p := range props {
					if !slices.Contains(names, p) {
						t.Errorf("the schema has %q, the Go type does not", p)
					}
				}
			}
			if tc.answered {
				if got := slices.Sorted(slices.Values(s.Required)); !slices.Equal(got, always) {
					t.Errorf("got required %v, want %v (the fields never omitted)", got, always)
				}
			} else if !strict[tc.schema] {
				t.Error("a request body is decoded strictly: want additionalProperties: false")
			}
		})
	}
}

// jsonFields returns the JSON names of t's fields, sorted, and those
// without omitempty.
func jsonFields(t reflect.Type) (names, always []string) {
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
		if !strings.Contains(","+opts+",", ",omitempty,") {
			always = append(always, name)
		}
	}
	slices.Sort(names)
	slices.Sort(always)
	return names, always
}

// TestOpenAPIAuthorizationRequestMatchesGoType checks the authorization
// request's parameters against auth.AuthorizationRequest, whose JSON names
// are the query and form names auth reads: the query of GET
// /oauth2/authorize, and the fields the login and MFA steps repeat (the
// consent step sends none of them).
func TestOpenAPIAuthorizationRequestMatchesGoType(t *testing.T) {
	d, ops := loadDoc(t)
	names, _ := jsonFields(reflect.TypeOf(auth.AuthorizationRequest{}))

	var params, requiredParams []string
	for _, p := range operation(t, ops, http.MethodGet, auth.PathAuthorize).Parameters {
		r := d.parameter(p)
		if r.In != "query" {
			t.Errorf("parameter %s is in %s, want query", r.Name, r.In)
		}
		params = append(params, r.Name)
		if r.Required {
			requiredParams = append(requiredParams, r.Name)
		}
	}
	slices.Sort(params)
	slices.Sort(requiredParams)
	if !slices.Equal(params, names) {
		t.Errorf("GET %s: got query parameters %v, want %v", auth.PathAuthorize, params, names)
	}

	fields := d.Components.Schemas["AuthorizeRequestFields"]
	if fields == nil {
		t.Fatal("no AuthorizeRequestFields schema")
	}
	if got := slices.Sorted(maps.Keys(fields.Properties)); !slices.Equal(got, names) {
		t.Errorf("AuthorizeRequestFields: got %v, want %v", got, names)
	}
	if got := slices.Sorted(slices.Values(fields.Required)); !slices.Equal(got, requiredParams) {
		t.Errorf("AuthorizeRequestFields: got required %v, want the query's %v", got, requiredParams)
	}

	form := d.Components.Schemas["AuthorizeForm"]
	if form == nil || len(form.OneOf) != 3 {
		t.Fatal("want AuthorizeForm to be one of three steps")
	}
	steps := map[string]bool{}
	for _, ref := range form.OneOf {
		props, required := d.properties(d.resolve(ref))
		step, _ := props["step"].Const.(string)
		steps[step] = true
		for _, f := range []string{"step", "csrf_token"} {
			if !slices.Contains(required, f) {
				t.Errorf("%s: %s is not required", ref.Ref, f)
			}
		}
		for _, n := range names {
			if _, ok := props[n]; ok != (step != "consent") {
				t.Errorf("%s (step %q): has %s = %v, want it on the login and MFA steps only", ref.Ref, step, n, ok)
			}
		}
	}
	if !maps.Equal(steps, map[string]bool{"login": true, "mfa": true, "consent": true}) {
		t.Errorf("got steps %v, want login, mfa and consent", slices.Sorted(maps.Keys(steps)))
	}
}

// TestOpenAPIOAuthResponses checks what the OAuth endpoints answer as auth
// builds them: HTML pages and redirects at the authorization endpoint
// (302 from its GET, 303 from its form), RFC 6749 JSON errors with
// no-store caching at the token, introspection and revocation endpoints,
// and no 415 where a form of another type is a 400.
func TestOpenAPIOAuthResponses(t *testing.T) {
	d, ops := loadDoc(t)
	const (
		html, js, problem = "text/html", "application/json", "application/problem+json"
	)
	noStore := []string{"Cache-Control", "Pragma"}
	tests := []struct {
		method, path string
		status       string
		types        []string // the content types, sorted; nil for none
		headers      []string
	}{
		{http.MethodGet, auth.PathAuthorize, "200", []string{html}, []string{"Set-Cookie", "Content-Security-Policy"}},
		{http.MethodGet, auth.PathAuthorize, "302", nil, []string{"Location"}},
		{http.MethodGet, auth.PathAuthorize, "400", []string{html}, nil},
		{http.MethodGet, auth.PathAuthorize, "500", []string{html}, nil},
		{http.MethodGet, auth.PathAuthorize, "503", []string{problem, html}, nil},
		{http.MethodPost, auth.PathAuthorize, "200", []string{html}, []string{"Set-Cookie", "Content-Security-Policy"}},
		{http.MethodPost, auth.PathAuthorize, "303", nil, []string{"Location"}},
		{http.MethodPost, auth.PathAuthorize, "400", []string{html}, nil},
		{http.MethodPost, auth.PathAuthorize, "403", []string{html}, nil},
		{http.MethodPost, auth.PathAuthorize, "429", []string{problem, html}, []string{"Retry-After"}},
		{http.MethodPost, auth.PathToken, "200", []string{js}, noStore},
		{http.MethodPost, auth.PathToken, "400", []string{js}, noStore},
		{http.MethodPost, auth.PathToken, "401", []string{js}, append([]string{"WWW-Authenticate"}, noStore...)},
		{http.MethodPost, auth.PathToken, "500", []string{js}, noStore},
		{http.MethodPost, auth.PathToken, "503", []string{js, problem}, nil},
		{http.MethodPost, auth.PathIntrospect, "200", []string{js}, noStore},
		{http.MethodPost, auth.PathIntrospect, "401", []string{js}, []string{"WWW-Authenticate"}},
		{http.MethodPost, auth.PathRevoke, "200", nil, noStore},
		{http.MethodPost, auth.PathRevoke, "401", []string{js}, []string{"WWW-Authenticate"}},
		{http.MethodGet, auth.PathUserInfo, "403", []string{problem}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path+" "+tc.status, func(t *testing.T) {
			ref := operation(t, ops, tc.method, tc.path).Responses[tc.status]
			if ref == nil {
				t.Fatalf("no %s response", tc.status)
			}
			resp, _ := d.response(ref)
			if got := slices.Sorted(maps.Keys(resp.Content)); !slices.Equal(got, tc.types) {
				t.Errorf("got content types %v, want %v", got, tc.types)
			}
			if mt, ok := resp.Content[js]; ok && tc.status[0] != '2' && (mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/OAuthError") {
				t.Errorf("the JSON error is not an OAuthError")
			}
			for _, h := range tc.headers {
				if resp.Headers[h] == nil {
					t.Errorf("no %s header", h)
				}
			}
		})
	}
	absent := []struct{ method, path, status string }{
		{http.MethodGet, auth.PathAuthorize, "303"},
		{http.MethodPost, auth.PathAuthorize, "302"},
		{http.MethodPost, auth.PathAuthorize, "415"},
		{http.MethodPost, auth.PathToken, "415"},
		{http.MethodPost, auth.PathIntrospect, "415"},
		{http.MethodPost, auth.PathRevoke, "415"},
	}
	for _, a := range absent {
		if operation(t, ops, a.method, a.path).Responses[a.status] != nil {
			t.Errorf("%s %s answers %s, which auth never sends", a.method, a.path, a.status)
		}
	}
	// The error codes auth's OAuth JSON endpoints send, and no other
	// (unsupported_token_type is not one: hints are ignored).
	var codes []string
	for _, v := range d.Components.Schemas["OAuthError"].Properties["error"].Enum {
		codes = append(codes, v.(string))
	}
	slices.Sort(codes)
	want := []string{"invalid_client", "invalid_grant", "invalid_request", "invalid_scope", "server_error", "temporarily_unavailable", "unauthorized_client", "unsupported_grant_type"}
	if !slices.Equal(codes, want) {
		t.Errorf("got OAuthError codes %v, want %v", codes, want)
	}
}

func TestOpenAPIJSONIsTheYAMLDocumentAndACopy(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPIJSON(), &doc); err != nil {
		t.Fatalf("OpenAPIJSON is not JSON: %v", err)
	}
	if doc["openapi"] != "3.1.0" || !bytes.Contains(openAPIYAML, []byte("openapi: 3.1.0")) {
		t.Errorf("got openapi %v, want the YAML's 3.1.0", doc["openapi"])
	}
	b := OpenAPIJSON()
	b[0] = 'x'
	if OpenAPIJSON()[0] != '{' {
		t.Error("changing the returned slice changed the document")
	}
}

// get sends a request to h and returns the recorded response.
func get(h http.Handler, method string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/", nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestReferenceHandlersServeCacheableDocuments(t *testing.T) {
	handlers := []struct {
		name        string
		h           http.Handler
		contentType string
		body        []byte
	}{
		{"openapi", OpenAPIHandler(), "application/json", OpenAPIJSON()},
		{"docs", DocsHandler(), "text/html; charset=utf-8", apiReference().html},
	}
	for _, hc := range handlers {
		t.Run(hc.name, func(t *testing.T) {
			w := get(hc.h, http.MethodGet, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("got status %d, want 200", w.Code)
			}
			if got := w.Header().Get("Content-Type"); got != hc.contentType {
				t.Errorf("got Content-Type %q, want %q", got, hc.contentType)
			}
			if !bytes.Equal(w.Body.Bytes(), hc.body) {
				t.Error("the body is not the document")
			}
			if got := w.Header().Get("Content-Length"); got != strconv.Itoa(len(hc.body)) {
				t.Errorf("got Content-Length %q, want %d", got, len(hc.body))
			}
			etag := w.Header().Get("ETag")
			if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
				t.Fatalf("got ETag %q, want a strong quoted tag", etag)
			}
			if got := w.Header().Get("Cache-Control"); got != referenceCacheControl {
				t.Errorf("got Cache-Control %q, want %q", got, referenceCacheControl)
			}

			conditional := []struct {
				name, ifNoneMatch string
				want              int
			}{
				{"the same tag", etag, http.StatusNotModified},
				{"the tag weakly", "W/" + etag, http.StatusNotModified},
				{"the tag in a list", `"other", ` + etag, http.StatusNotModified},
				{"any tag", "*", http.StatusNotModified},
				{"another tag", `"0123"`, http.StatusOK},
				{"an unquoted tag", strings.Trim(etag, `"`), http.StatusOK},
			}
			for _, c := range conditional {
				t.Run(c.name, func(t *testing.T) {
					w := get(hc.h, http.MethodGet, map[string]string{"If-None-Match": c.ifNoneMatch})
					if w.Code != c.want {
						t.Fatalf("got status %d, want %d", w.Code, c.want)
					}
					if w.Header().Get("ETag") != etag {
						t.Errorf("got ETag %q, want %q", w.Header().Get("ETag"), etag)
					}
					if c.want == http.StatusNotModified && w.Body.Len() != 0 {
						t.Errorf("a 304 has a body of %d bytes", w.Body.Len())
					}
				})
			}

			head := get(hc.h, http.MethodHead, nil)
			if head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("ETag") != etag {
				t.Errorf("HEAD: got %d with %d bytes and ETag %q, want 200, no body, %q", head.Code, head.Body.Len(), head.Header().Get("ETag"), etag)
			}

			post := get(hc.h, http.MethodPost, nil)
			if post.Code != http.StatusMethodNotAllowed {
				t.Fatalf("POST: got status %d, want 405", post.Code)
			}
			if got := post.Header().Get("Allow"); got != "GET, HEAD" {
				t.Errorf("POST: got Allow %q, want GET, HEAD", got)
			}
			var p httpx.Problem
			if ct := post.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("POST: got Content-Type %q, want application/problem+json", ct)
			} else if err := json.Unmarshal(post.Body.Bytes(), &p); err != nil || p.Code != "method_not_allowed" {
				t.Errorf("POST: got problem %+v (%v), want code method_not_allowed", p, err)
			}
		})
	}
}

func TestDocsPageIsSelfContainedAndComplete(t *testing.T) {
	d, ops := loadDoc(t)
	w := get(DocsHandler(), http.MethodGet, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("got status %d, want 200", w.Code)
	}
	body := w.Body.String()

	// The CSP allows the page's one style sheet by hash, and nothing else.
	csp := w.Header().Get("Content-Security-Policy")
	style, err := inlineStyle(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(style)
	if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
		t.Errorf("got CSP %q, want it to contain %q", csp, want)
	}
	if !strings.HasPrefix(csp, "default-src 'none';") || strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") {
		t.Errorf("got CSP %q, want default-src 'none' and no scripts", csp)
	}

	root, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the page does not parse: %v", err)
	}
	ids := map[string]int{}
	var hrefs, texts []string
	var tables, captions, headerCells, scopedHeaderCells int
	var elements = map[string]int{}
	for n := range root.Descendants() {
		switch n.Type {
		case html.TextNode:
			texts = append(texts, n.Data)
			continue
		case html.ElementNode:
		default:
			continue
		}
		elements[n.Data]++
		attrs := map[string]string{}
		for _, a := range n.Attr {
			attrs[a.Key] = a.Val
		}
		if id, ok := attrs["id"]; ok {
			ids[id]++
		}
		if href, ok := attrs["href"]; ok {
			hrefs = append(hrefs, href)
		}
		if _, ok := attrs["src"]; ok {
			t.Errorf("<%s src=%q>: the page loads nothing", n.Data, attrs["src"])
		}
		switch n.Data {
		case "html":
			if attrs["lang"] != "en" {
				t.Errorf("got <html lang=%q>, want en", attrs["lang"])
			}
		case "table":
			tables++
			for c := range n.ChildNodes() {
				if c.Type == html.ElementNode {
					if c.Data == "caption" && strings.TrimSpace(textOf(c)) != "" {
						captions++
					}
					break
				}
			}
		case "th":
			headerCells++
			if attrs["scope"] != "" {
				scopedHeaderCells++
			}
		case "nav":
			if attrs["aria-labelledby"] == "" {
				t.Error("the <nav> has no accessible name")
			}
		}
	}
	for _, banned := range []string{"script", "link", "iframe", "object", "embed", "img"} {
		if elements[banned] > 0 {
			t.Errorf("the page has %d <%s> elements, want none", elements[banned], banned)
		}
	}
	if elements["main"] != 1 || elements["nav"] != 1 || elements["h1"] != 1 {
		t.Errorf("got %d <main>, %d <nav>, %d <h1>, want one each", elements["main"], elements["nav"], elements["h1"])
	}
	if tables == 0 || captions != tables {
		t.Errorf("%d of %d tables have a caption, want all", captions, tables)
	}
	if scopedHeaderCells != headerCells {
		t.Errorf("%d of %d header cells have a scope, want all", scopedHeaderCells, headerCells)
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("id %q appears %d times", id, n)
		}
	}
	for _, href := range hrefs {
		switch {
		case strings.HasPrefix(href, "#"):
			if ids[href[1:]] == 0 {
				t.Errorf("the link %q leads nowhere", href)
			}
		case href != PathOpenAPI:
			t.Errorf("the link %q leaves the page; want in-page links and the document only", href)
		}
	}

	text := strings.Join(texts, "")
	for path := range d.Paths {
		if !strings.Contains(text, path) {
			t.Errorf("the page does not show the path %s", path)
		}
	}
	for key, op := range ops {
		if ids["op-"+op.OperationID] == 0 {
			t.Errorf("%s has no section op-%s", key, op.OperationID)
		}
		if !slices.Contains(hrefs, "#op-"+op.OperationID) {
			t.Errorf("%s is not in the table of contents", key)
		}
	}
	for _, tag := range d.Tags {
		if !slices.Contains(hrefs, "#tag-"+slug(tag.Name)) {
			t.Errorf("the tag %s is not in the table of contents", tag.Name)
		}
	}
	for name := range d.Components.Schemas {
		if ids["schema-"+name] == 0 {
			t.Errorf("the schema %s has no section", name)
		}
	}
	// What an operation's section says: its auth, a body field, a response.
	transfer := body[strings.Index(body, `id="op-createTransfer"`):]
	transfer = transfer[:strings.Index(transfer, "</article>")]
	for _, want := range []string{"Required: bearer access token", "Idempotency-Key", "from_wallet_id", "insufficient_funds", "currency_mismatch", "422"} {
		if !strings.Contains(transfer, want) {
			t.Errorf("the transfer section does not show %q", want)
		}
	}
}

// textOf returns the text inside n.
func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

func TestDocsDescriptionMarkup(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []docsBlock
	}{
		{"paragraph with code", "Send `a` and\n`b`.", []docsBlock{{Para: []docsSpan{{Text: "Send "}, {Text: "a", Code: true}, {Text: " and "}, {Text: "b", Code: true}, {Text: "."}}}}},
		{"unpaired backtick", "a ` b", []docsBlock{{Para: []docsSpan{{Text: "a ` b"}}}}},
		{"heading then list", "## Lists\n\n- one\n  continued\n- `two`", []docsBlock{
			{Heading: "Lists"},
			{List: [][]docsSpan{{{Text: "one continued"}}, {{Text: "two", Code: true}}}},
		}},
		{"empty", "  ", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := blocks(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestOpenAPIValidatesWithKinOpenAPI(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIJSON())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
}
