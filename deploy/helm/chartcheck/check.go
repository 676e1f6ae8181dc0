package chartcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	networkingv1 "istio.io/api/networking/v1"
	securityv1 "istio.io/api/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/scheme"
	sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Checker decodes rendered objects strictly into their types.
type Checker struct {
	scheme *runtime.Scheme
	codec  runtime.Decoder
}

// NewChecker returns a Checker over client-go's scheme plus the ServiceMonitor types.
func NewChecker() (*Checker, error) {
	s := runtime.NewScheme()
	if err := scheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("client-go scheme: %w", err)
	}
	if err := monitoringv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("monitoring scheme: %w", err)
	}
	codec := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s,
		kjson.SerializerOptions{Yaml: true, Strict: true})
	return &Checker{scheme: s, codec: codec}, nil
}

// istioSpecs are the Istio kinds the chart renders, each with its spec's protobuf type.
var istioSpecs = map[schema.GroupVersionKind]func() proto.Message{
	{Group: "security.istio.io", Version: "v1", Kind: "PeerAuthentication"}:  func() proto.Message { return &securityv1.PeerAuthentication{} },
	{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"}: func() proto.Message { return &securityv1.AuthorizationPolicy{} },
	{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"}:   func() proto.Message { return &networkingv1.DestinationRule{} },
	{Group: "networking.istio.io", Version: "v1", Kind: "ServiceEntry"}:      func() proto.Message { return &networkingv1.ServiceEntry{} },
}

// Check decodes obj into its Go type, failing on unknown or duplicate fields, on a kind
// no type is known for, and on names or labels the API server would refuse. It returns
// the decoded value: a runtime.Object, an *IstioObject, or one of this package's
// operator types.
func (c *Checker) Check(obj Object) (any, error) {
	gv, err := schema.ParseGroupVersion(obj.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", obj, err)
	}
	gvk := gv.WithKind(obj.Kind)
	js, err := yaml.YAMLToJSONStrict(obj.YAML)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", obj, err)
	}
	var out any
	var meta metav1.ObjectMeta
	switch {
	case c.scheme.Recognizes(gvk):
		ro, _, err := c.codec.Decode(obj.YAML, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", obj, err)
		}
		m, ok := ro.(metav1.Object)
		if !ok {
			return nil, fmt.Errorf("%s: no object metadata", obj)
		}
		meta = metav1.ObjectMeta{Name: m.GetName(), Labels: m.GetLabels(), Annotations: m.GetAnnotations()}
		out = ro
	case istioSpecs[gvk] != nil:
		io, err := decodeIstio(js, istioSpecs[gvk]())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", obj, err)
		}
		meta, out = io.ObjectMeta, io
	case operatorKinds[gvk] != nil:
		v := operatorKinds[gvk]()
		if err := strictJSON(js, v); err != nil {
			return nil, fmt.Errorf("%s: %w", obj, err)
		}
		if val, ok := v.(interface{ validate() error }); ok {
			if err := val.validate(); err != nil {
				return nil, fmt.Errorf("%s: %w", obj, err)
			}
		}
		meta, out = v.(interface{ objectMeta() metav1.ObjectMeta }).objectMeta(), v
	default:
		return nil, fmt.Errorf("%s: no Go type is known for %s, so it cannot be checked", obj, gvk)
	}
	if err := checkMeta(obj.Kind, meta); err != nil {
		return nil, fmt.Errorf("%s: %w", obj, err)
	}
	return out, nil
}

// IstioObject is a decoded Istio resource: Kubernetes metadata around the protobuf spec.
type IstioObject struct {
	metav1.TypeMeta
	ObjectMeta metav1.ObjectMeta
	Spec       proto.Message
}

// decodeIstio reads the envelope strictly, then the spec with protojson, which refuses
// unknown fields (Istio's own UnmarshalJSON allows them, so it is not used).
func decodeIstio(js []byte, spec proto.Message) (*IstioObject, error) {
	var env struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ObjectMeta `json:"metadata"`
		Spec            json.RawMessage   `json:"spec"`
	}
	if err := strictJSON(js, &env); err != nil {
		return nil, err
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(env.Spec, spec); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	return &IstioObject{TypeMeta: env.TypeMeta, ObjectMeta: env.Metadata, Spec: spec}, nil
}

// strictJSON decodes case-sensitively, refusing unknown and duplicate fields, as the API
// server's strict field validation does.
func strictJSON(js []byte, v any) error {
	strict, err := sjson.UnmarshalStrict(js, v)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return fmt.Errorf("strict decoding error: %w", errors.Join(strict...))
	}
	return nil
}

// checkMeta applies the API server's rules for names, labels and annotation keys.
func checkMeta(kind string, m metav1.ObjectMeta) error {
	var problems []string
	nameRule := validation.IsDNS1123Subdomain
	if kind == "Service" {
		nameRule = validation.IsDNS1035Label // a Service name is a DNS label
	}
	if m.Name == "" {
		problems = append(problems, "metadata.name is empty")
	}
	for _, p := range nameRule(m.Name) {
		problems = append(problems, fmt.Sprintf("name %q: %s", m.Name, p))
	}
	for k, v := range m.Labels {
		for _, p := range validation.IsQualifiedName(k) {
			problems = append(problems, fmt.Sprintf("label key %q: %s", k, p))
		}
		for _, p := range validation.IsValidLabelValue(v) {
			problems = append(problems, fmt.Sprintf("label %s=%q: %s", k, v, p))
		}
	}
	for k := range m.Annotations {
		for _, p := range validation.IsQualifiedName(strings.ToLower(k)) {
			problems = append(problems, fmt.Sprintf("annotation key %q: %s", k, p))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
