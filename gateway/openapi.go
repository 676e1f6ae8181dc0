package gateway

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-kit/log"
	"sigs.k8s.io/yaml"

	"github.com/azora-os/azora/shared/httpx"
)

// The API reference: openapi.yaml is the one source, served as JSON at
// PathOpenAPI and rendered as a page at PathDocs.
var (
	//go:embed openapi.yaml
	openAPIYAML []byte
	//go:embed docs.html
	docsTemplate string
)

// referenceCacheControl lets clients and shared caches reuse the document
// and its page for five minutes, then revalidate with If-None-Match: it
// changes only with a deployment, and a 304 costs next to nothing.
const referenceCacheControl = "public, max-age=300"

// apiReference is the document and its page, built once (about 50 ms) by
// the first of OpenAPIJSON, OpenAPIHandler and DocsHandler, so packages
// that import gateway without serving them do not pay for it. Both come
// from embedded files: a fault is a programming error that the package's
// tests catch, and it panics while the server is being wired, never at a
// request.
var apiReference = sync.OnceValue(func() reference {
	return mustBuildReference(openAPIYAML, docsTemplate)
})

// reference holds what the two handlers serve.
type reference struct {
	json, html         []byte
	jsonETag, htmlETag string
	htmlCSP            string
}

func mustBuildReference(doc []byte, page string) reference {
	ref, err := buildReference(doc, page)
	if err != nil {
		panic("gateway: the embedded API reference: " + err.Error())
	}
	return ref
}

func buildReference(doc []byte, page string) (reference, error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return reference{}, fmt.Errorf("openapi.yaml to JSON: %w", err)
	}
	html, err := renderDocs(js, page)
	if err != nil {
		return reference{}, err
	}
	// The page's only active content is its one inline style sheet: the
	// CSP allows exactly that sheet, by hash, and nothing else.
	style, err := inlineStyle(html)
	if err != nil {
		return reference{}, err
	}
	sum := sha256.Sum256(style)
	csp := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return reference{json: js, html: html, jsonETag: etagOf(js), htmlETag: etagOf(html), htmlCSP: csp}, nil
}

// inlineStyle returns the content of the page's <style> element.
func inlineStyle(page []byte) ([]byte, error) {
	_, rest, ok := bytes.Cut(page, []byte("<style>"))
	if !ok {
		return nil, fmt.Errorf("docs.html has no <style> element")
	}
	style, _, ok := bytes.Cut(rest, []byte("</style>"))
	if !ok {
		return nil, fmt.Errorf("docs.html does not close its <style> element")
	}
	return style, nil
}

// etagOf is a strong validator: the first 128 bits of the body's SHA-256.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// OpenAPIJSON returns the platform's OpenAPI 3.1 document (openapi.yaml)
// as JSON. The caller owns the returned slice.
func OpenAPIJSON() []byte { return bytes.Clone(apiReference().json) }

// OpenAPIHandler serves the OpenAPI document at PathOpenAPI: GET and HEAD
// answer 200 application/json with a strong ETag and Cache-Control, or 304
// when If-None-Match names the current ETag; any other method is a 405
// problem.
func OpenAPIHandler() http.Handler {
	ref := apiReference()
	return staticHandler(ref.json, ref.jsonETag, "application/json", nil)
}

// DocsHandler serves the API reference page at PathDocs: the document
// rendered server-side as one self-contained HTML page (a table of
// contents by tag; each operation's method, path, authentication,
// parameters, request body fields and responses; the schemas) with no
// scripts and no external resources. GET and HEAD answer 200 text/html
// with a strong ETag, or 304 on a matching If-None-Match; its
// Content-Security-Policy allows only the page's own style sheet. Any
// other method is a 405 problem.
func DocsHandler() http.Handler {
	ref := apiReference()
	return staticHandler(ref.html, ref.htmlETag, "text/html; charset=utf-8",
		map[string]string{"Content-Security-Policy": ref.htmlCSP})
}

// staticHandler serves an immutable body. Headers are Set, not Added: the
// shared stack's SecurityHeaders has already put no-store and a stricter
// CSP there for API answers, and these documents are meant to be cached.
func staticHandler(body []byte, etag, contentType string, extra map[string]string) http.Handler {
	methodNotAllowed := httpx.MethodNotAllowedHandler(log.NewNopLogger())
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			methodNotAllowed.ServeHTTP(w, r)
			return
		}
		h.Set("ETag", etag)
		h.Set("Cache-Control", referenceCacheControl)
		for k, v := range extra {
			h.Set(k, v)
		}
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", contentType)
		h.Set("Content-Length", length)
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body) // a failed write means the client left
		}
	})
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110 §13.1.2):
// "*" or any listed tag equal to etag once a W/ prefix is dropped.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// The parts of an OpenAPI document the reference page shows. $ref is
// resolved against components; a Reference Object's own description (an
// OpenAPI 3.1 sibling of $ref) wins over the component's.
type (
	oaDoc struct {
		Info struct {
			Title, Version, Summary, Description string
		}
		Tags []struct {
			Name, Description string
		}
		Paths      map[string]map[string]json.RawMessage
		Components struct {
			Schemas         map[string]*oaSchema
			Parameters      map[string]*oaParameter
			Responses       map[string]*oaResponse
			Headers         map[string]*oaHeader
			SecuritySchemes map[string]oaSecurityScheme `json:"securitySchemes"`
		}
	}
	oaOperation struct {
		OperationID string `json:"operationId"`
		Summary     string
		Description string
		Tags        []string
		Security    []map[string][]string
		Parameters  []*oaParameter
		RequestBody *oaRequestBody `json:"requestBody"`
		Responses   map[string]*oaResponse
		Service     string   `json:"x-azora-service"`
		RateClass   string   `json:"x-azora-rate-class"`
		Roles       []string `json:"x-azora-roles"`
	}
	oaParameter struct {
		Ref         string `json:"$ref"`
		Name, In    string
		Description string
		Required    bool
		Schema      *oaSchema
	}
	oaRequestBody struct {
		Required    bool
		Description string
		Content     map[string]oaMedia
	}
	oaResponse struct {
		Ref         string `json:"$ref"`
		Description string
		Headers     map[string]*oaHeader
		Content     map[string]oaMedia
	}
	oaHeader struct {
		Ref         string `json:"$ref"`
		Description string
	}
	oaMedia struct {
		Schema *oaSchema
	}
	oaSecurityScheme struct {
		Type, Scheme string
	}
	oaSchema struct {
		Ref                  string `json:"$ref"`
		Type                 oaTypes
		Format, Description  string
		Pattern              string
		Properties           map[string]*oaSchema
		Required             []string
		Items                *oaSchema
		AllOf, OneOf, AnyOf  []*oaSchema
		Enum                 []any
		Const                any
		Default              any
		Minimum, Maximum     *float64
		MinLength, MaxLength *int
	}
	// oaTypes is a schema's type: one name, or a list of them (3.1).
	oaTypes []string
)

// UnmarshalJSON accepts "string" and ["string", "null"] alike.
func (t *oaTypes) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = oaTypes{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("schema type: %w", err)
	}
	*t = many
	return nil
}

// The reference page's model, what docs.html renders.
type (
	docsPage struct {
		Title, Version, Summary string
		Intro                   []docsBlock
		Tags                    []docsTag
		Schemas                 []docsSchema
	}
	docsTag struct {
		ID, Name    string
		Description []docsSpan
		Ops         []docsOp
	}
	docsOp struct {
		ID, Method, Path, Summary, OperationID string
		Description                            []docsBlock
		Auth, Roles, Service, RateClass        string
		Params                                 []docsField
		Body                                   *docsBody
		Responses                              []docsResponse
	}
	docsBody struct {
		ContentTypes string
		Required     bool
		Type         docsType
		Fields       []docsField
	}
	docsResponse struct {
		Status, ContentTypes, Headers string
		Description                   []docsSpan
		Type                          docsType
	}
	docsSchema struct {
		ID, Name    string
		Description []docsSpan
		Type        docsType
		Fields      []docsField
	}
	// docsField is a parameter or a body field.
	docsField struct {
		Name, In, Rules string
		Required        bool
		Type            docsType
		Description     []docsSpan
	}
	// docsBlock is a paragraph, a list or a heading of a description.
	docsBlock struct {
		Heading string
		Para    []docsSpan
		List    [][]docsSpan
	}
	// docsSpan is text, shown as code when Code is set.
	docsSpan struct {
		Text string
		Code bool
	}
	// docsType is a type expression; parts with an Anchor link to a schema.
	docsType     []docsTypePart
	docsTypePart struct {
		Text, Anchor string
	}
)

// renderDocs renders the reference page of the OpenAPI document js with
// the html/template page.
func renderDocs(js []byte, page string) ([]byte, error) {
	var d oaDoc
	if err := json.Unmarshal(js, &d); err != nil {
		return nil, fmt.Errorf("read the OpenAPI document: %w", err)
	}
	model, err := d.page()
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New("docs").Funcs(docsFuncs).Parse(page)
	if err != nil {
		return nil, fmt.Errorf("parse docs.html: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, model); err != nil {
		return nil, fmt.Errorf("render docs.html: %w", err)
	}
	return buf.Bytes(), nil
}

// docsFuncs are the functions docs.html calls.
var docsFuncs = template.FuncMap{
	"lower": strings.ToLower,
	// fieldTable passes a captioned list of fields to the "fields" template.
	"fieldTable": func(caption string, fields []docsField) any {
		return struct {
			Caption string
			Fields  []docsField
		}{caption, fields}
	},
}

// opMethods are the operation keys of a path item, in display order.
var opMethods = []string{"get", "put", "post", "patch", "delete", "head", "options", "trace"}

// eachOperation calls fn with every operation of the document (in no
// particular path order, opMethods' order within a path), its method in
// upper case, and the parameters its path item declares for all of them.
func (d *oaDoc) eachOperation(fn func(method, path string, op oaOperation, shared []*oaParameter)) error {
	for path, item := range d.Paths {
		var shared []*oaParameter
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				return fmt.Errorf("parameters of %s: %w", path, err)
			}
		}
		for _, m := range opMethods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			var op oaOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				return fmt.Errorf("%s %s: %w", m, path, err)
			}
			fn(strings.ToUpper(m), path, op, shared)
		}
	}
	return nil
}

func (d *oaDoc) page() (docsPage, error) {
	p := docsPage{Title: d.Info.Title, Version: d.Info.Version, Summary: d.Info.Summary, Intro: blocks(d.Info.Description)}
	byTag := map[string][]docsOp{}
	err := d.eachOperation(func(method, path string, op oaOperation, shared []*oaParameter) {
		tag := "Other"
		if len(op.Tags) > 0 {
			tag = op.Tags[0]
		}
		byTag[tag] = append(byTag[tag], d.operation(method, path, op, shared))
	})
	if err != nil {
		return docsPage{}, err
	}
	names := make([]string, 0, len(d.Tags))
	descs := map[string]string{}
	for _, t := range d.Tags {
		names, descs[t.Name] = append(names, t.Name), t.Description
	}
	for name := range byTag {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for _, name := range names {
		ops := byTag[name]
		if len(ops) == 0 {
			continue
		}
		slices.SortStableFunc(ops, func(a, b docsOp) int { return opRank(a) - opRank(b) })
		p.Tags = append(p.Tags, docsTag{ID: "tag-" + slug(name), Name: name, Description: spans(descs[name]), Ops: ops})
	}
	schemaNames := make([]string, 0, len(d.Components.Schemas))
	for name := range d.Components.Schemas {
		schemaNames = append(schemaNames, name)
	}
	slices.Sort(schemaNames)
	for _, name := range schemaNames {
		s := d.Components.Schemas[name]
		p.Schemas = append(p.Schemas, docsSchema{ID: "schema-" + name, Name: name,
			Description: spans(s.Description), Type: d.typeOf(s), Fields: d.fields(s, "")})
	}
	return p, nil
}

// opRank orders a tag's operations as Routes lists them (API.md's order),
// then the gateway's own paths by path and method.
func opRank(o docsOp) int {
	for i, r := range Routes {
		if r.Method == o.Method && r.Path == o.Path {
			return i
		}
	}
	own := []string{PathDashboard, PathOpenAPI, PathDocs}
	return len(Routes) + slices.Index(own, o.Path)*len(opMethods) + slices.Index(opMethods, strings.ToLower(o.Method)) + 1
}

func (d *oaDoc) operation(method, path string, op oaOperation, shared []*oaParameter) docsOp {
	o := docsOp{
		ID: "op-" + op.OperationID, Method: method, Path: path, Summary: op.Summary, OperationID: op.OperationID,
		Description: blocks(op.Description), Auth: d.auth(op.Security), Roles: strings.Join(op.Roles, ", "),
		Service: op.Service, RateClass: op.RateClass,
	}
	params := map[string]docsField{}
	var order []string
	for _, ref := range append(slices.Clone(shared), op.Parameters...) {
		prm := d.parameter(ref)
		key := prm.In + " " + prm.Name
		if _, seen := params[key]; !seen {
			order = append(order, key)
		}
		params[key] = docsField{Name: prm.Name, In: prm.In, Required: prm.Required, Type: d.typeOf(prm.Schema),
			Rules: d.rules(d.resolve(prm.Schema)), Description: spans(prm.Description)}
	}
	for _, key := range order {
		o.Params = append(o.Params, params[key])
	}
	if rb := op.RequestBody; rb != nil && len(rb.Content) > 0 {
		types := sortedKeys(rb.Content)
		s := rb.Content[types[0]].Schema
		o.Body = &docsBody{ContentTypes: strings.Join(types, ", "), Required: rb.Required, Type: d.typeOf(s), Fields: d.fields(s, "")}
	}
	for _, status := range sortedKeys(op.Responses) {
		resp, desc := d.response(op.Responses[status])
		r := docsResponse{Status: status, Description: spans(desc), ContentTypes: strings.Join(sortedKeys(resp.Content), ", "),
			Headers: strings.Join(sortedKeys(resp.Headers), ", ")}
		if len(resp.Content) > 0 {
			r.Type = d.typeOf(resp.Content[sortedKeys(resp.Content)[0]].Schema)
		}
		o.Responses = append(o.Responses, r)
	}
	return o
}

// auth describes an operation's security requirements in words.
func (d *oaDoc) auth(reqs []map[string][]string) string {
	var labels []string
	optional := false
	for _, req := range reqs {
		if len(req) == 0 {
			optional = true
			continue
		}
		var names []string
		for _, name := range sortedKeys(req) {
			names = append(names, d.schemeLabel(name))
		}
		labels = append(labels, strings.Join(names, " and "))
	}
	switch {
	case len(labels) == 0:
		return "None: public"
	case optional:
		return "Optional: " + strings.Join(labels, " or ") + ", or none"
	}
	return "Required: " + strings.Join(labels, " or ")
}

func (d *oaDoc) schemeLabel(name string) string {
	s := d.Components.SecuritySchemes[name]
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		return "bearer access token"
	case s.Type == "http" && strings.EqualFold(s.Scheme, "basic"):
		return "HTTP Basic client credentials"
	}
	return name
}

// componentName returns the last segment of a local $ref.
func componentName(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

func (d *oaDoc) parameter(p *oaParameter) oaParameter {
	target := d.Components.Parameters[componentName(p.Ref)]
	if p.Ref == "" || target == nil {
		return *p
	}
	out := *target
	if p.Description != "" {
		out.Description = p.Description
	}
	return out
}

// response resolves r and returns its description (a sibling one wins).
func (d *oaDoc) response(r *oaResponse) (oaResponse, string) {
	target := d.Components.Responses[componentName(r.Ref)]
	if r.Ref == "" || target == nil {
		return *r, r.Description
	}
	out := *target
	if r.Description != "" {
		return out, r.Description
	}
	return out, out.Description
}

// resolve follows a schema's $ref, keeping a sibling description.
func (d *oaDoc) resolve(s *oaSchema) *oaSchema {
	if s == nil || s.Ref == "" {
		return s
	}
	target := d.Components.Schemas[componentName(s.Ref)]
	if target == nil {
		return s
	}
	if s.Description == "" {
		return target
	}
	c := *target
	c.Description = s.Description
	return &c
}

// typeOf writes s as a short type expression: a schema's name (linked),
// "array of X", "A or B", a type with its format.
func (d *oaDoc) typeOf(s *oaSchema) docsType {
	switch {
	case s == nil:
		return docsType{{Text: "any"}}
	case s.Ref != "":
		name := componentName(s.Ref)
		return docsType{{Text: name, Anchor: "schema-" + name}}
	case len(s.OneOf) > 0:
		return d.joinTypes(s.OneOf, " or ")
	case len(s.AnyOf) > 0:
		return d.joinTypes(s.AnyOf, " or ")
	case len(s.AllOf) > 0:
		return d.joinTypes(s.AllOf, " and ")
	}
	var t docsType
	types := s.Type
	if len(types) == 0 {
		types = oaTypes{"any"}
	}
	for i, name := range types {
		if i > 0 {
			t = append(t, docsTypePart{Text: " or "})
		}
		switch {
		case name == "array":
			t = append(append(t, docsTypePart{Text: "array of "}), d.typeOf(s.Items)...)
		case name == "object" && len(s.Properties) > 0:
			t = append(t, docsTypePart{Text: "object (fields below)"})
		case s.Format != "" && name != "null":
			t = append(t, docsTypePart{Text: name + " (" + s.Format + ")"})
		default:
			t = append(t, docsTypePart{Text: name})
		}
	}
	return t
}

func (d *oaDoc) joinTypes(ss []*oaSchema, sep string) docsType {
	var t docsType
	for i, s := range ss {
		if i > 0 {
			t = append(t, docsTypePart{Text: sep})
		}
		t = append(t, d.typeOf(s)...)
	}
	return t
}

// rules lists a schema's constraints in words.
func (d *oaDoc) rules(s *oaSchema) string {
	if s == nil {
		return ""
	}
	var r []string
	if s.Const != nil {
		r = append(r, "always "+jsonText(s.Const))
	}
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = jsonText(v)
		}
		r = append(r, "one of "+strings.Join(vals, ", "))
	}
	num := func(label string, f *float64) {
		if f != nil {
			r = append(r, label+" "+strconv.FormatFloat(*f, 'f', -1, 64))
		}
	}
	num("min", s.Minimum)
	num("max", s.Maximum)
	switch minLen, maxLen := s.MinLength, s.MaxLength; {
	case minLen != nil && maxLen != nil:
		r = append(r, strconv.Itoa(*minLen)+" to "+strconv.Itoa(*maxLen)+" characters")
	case minLen != nil:
		r = append(r, "at least "+strconv.Itoa(*minLen)+" characters")
	case maxLen != nil:
		r = append(r, "at most "+strconv.Itoa(*maxLen)+" characters")
	}
	if s.Pattern != "" {
		r = append(r, "matches "+s.Pattern)
	}
	if s.Default != nil {
		r = append(r, "default "+jsonText(s.Default))
	}
	if item := d.rules(d.resolve(s.Items)); item != "" {
		r = append(r, "each: "+item)
	}
	return strings.Join(r, "; ")
}

func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v) // values decoded from JSON marshal back
	return string(b)
}

// fields lists the properties of s (following its $ref and merging allOf),
// and those of inline objects among them with dotted names.
func (d *oaDoc) fields(s *oaSchema, prefix string) []docsField {
	props, required := d.properties(d.resolve(s))
	var out []docsField
	for _, name := range sortedKeys(props) {
		p := props[name]
		rp := d.resolve(p)
		out = append(out, docsField{Name: prefix + name, Required: slices.Contains(required, name), Type: d.typeOf(p),
			Rules: d.rules(rp), Description: spans(rp.Description)})
		if p.Ref == "" && len(p.Properties) > 0 {
			out = append(out, d.fields(p, prefix+name+".")...)
		}
	}
	return out
}

// properties merges the properties and required lists of s and its allOf
// members; a later member's property keeps an earlier description it
// lacks.
func (d *oaDoc) properties(s *oaSchema) (map[string]*oaSchema, []string) {
	props := map[string]*oaSchema{}
	if s == nil {
		return props, nil
	}
	required := slices.Clone(s.Required)
	add := func(name string, p *oaSchema) {
		if prev, ok := props[name]; ok && p.Description == "" {
			c := *p
			c.Description = prev.Description
			p = &c
		}
		props[name] = p
	}
	for _, part := range s.AllOf {
		pp, rr := d.properties(d.resolve(part))
		for _, name := range sortedKeys(pp) {
			add(name, pp[name])
		}
		required = append(required, rr...)
	}
	for _, name := range sortedKeys(s.Properties) {
		add(name, s.Properties[name])
	}
	return props, required
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// blocks reads the Markdown subset the descriptions use: paragraphs
// separated by blank lines, "## " headings, "- " lists whose items may
// continue on indented lines, and `code`.
func blocks(text string) []docsBlock {
	var out []docsBlock
	for _, chunk := range strings.Split(strings.TrimSpace(text), "\n\n") {
		lines := strings.Split(strings.TrimSpace(chunk), "\n")
		switch first := lines[0]; {
		case first == "":
			continue
		case strings.HasPrefix(first, "## "):
			out = append(out, docsBlock{Heading: strings.TrimPrefix(first, "## ")})
			if len(lines) > 1 {
				out = append(out, docsBlock{Para: spans(joinLines(lines[1:]))})
			}
		case strings.HasPrefix(first, "- "):
			var items []string
			for _, l := range lines {
				if item, ok := strings.CutPrefix(l, "- "); ok {
					items = append(items, item)
				} else if len(items) > 0 {
					items[len(items)-1] += " " + strings.TrimSpace(l)
				}
			}
			b := docsBlock{}
			for _, item := range items {
				b.List = append(b.List, spans(item))
			}
			out = append(out, b)
		default:
			out = append(out, docsBlock{Para: spans(joinLines(lines))})
		}
	}
	return out
}

func joinLines(lines []string) string {
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " ")
}

// spans splits text at backticks into plain and code spans; text with an
// unpaired backtick stays plain.
func spans(text string) []docsSpan {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	parts := strings.Split(text, "`")
	if len(parts)%2 == 0 {
		return []docsSpan{{Text: text}}
	}
	out := make([]docsSpan, 0, len(parts))
	for i, p := range parts {
		if p != "" {
			out = append(out, docsSpan{Text: p, Code: i%2 == 1})
		}
	}
	return out
}
