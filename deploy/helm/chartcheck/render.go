// Package chartcheck renders the azora Helm chart with Helm's own library and checks
// every object it produces: strict decoding into its Kubernetes type (client-go's scheme,
// plus prometheus-operator's ServiceMonitor), the operators' custom resources against the
// fields they publish (Istio's own protobuf types, and Go structs of the CloudNativePG,
// Strimzi and Redis operator fields the chart uses), and the names and labels the API
// server would refuse. Its tests are the chart's CI: `make helm-check`.
//
// It is a module of its own so that Helm and the Kubernetes libraries never enter the
// services' go.mod.
package chartcheck

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"
)

// KubeVersion is the Kubernetes version the chart is linted and rendered for.
var KubeVersion = chartutil.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"}

// Options say what to render, as `helm template` flags do.
type Options struct {
	Chart       string   // the chart directory
	ValueFiles  []string // -f, in order
	Set         []string // --set key=value, applied after the files
	ReleaseName string   // default "azora"
	Namespace   string   // default "azora"
}

func (o Options) release() (name, namespace string) {
	name, namespace = o.ReleaseName, o.Namespace
	if name == "" {
		name = "azora"
	}
	if namespace == "" {
		namespace = "azora"
	}
	return name, namespace
}

// Values merges the value files and --set overrides the way helm does.
func (o Options) Values() (map[string]any, error) {
	opts := values.Options{ValueFiles: o.ValueFiles, Values: o.Set}
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	return vals, nil
}

// Lint is `helm lint --strict`: every warning counts as an error. It returns nil or one
// error naming every finding.
func Lint(o Options) error {
	vals, err := o.Values()
	if err != nil {
		return err
	}
	_, namespace := o.release()
	l := action.NewLint()
	l.Strict = true
	l.Namespace = namespace
	l.KubeVersion = &KubeVersion
	res := l.Run([]string{o.Chart}, vals)
	if len(res.Errors) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(res.Messages))
	for _, m := range res.Messages {
		msgs = append(msgs, m.Error())
	}
	return fmt.Errorf("helm lint --strict %s: %w\n%s", o.Chart, errors.Join(res.Errors...), strings.Join(msgs, "\n"))
}

// Object is one rendered Kubernetes object.
type Object struct {
	Source     string // the template it came from, e.g. azora/templates/deployment.yaml
	Hook       bool   // a Helm hook (helm.sh/hook) rather than a release resource
	APIVersion string
	Kind       string
	Name       string
	YAML       []byte
}

// String names the object for messages.
func (o Object) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", o.APIVersion, o.Kind, o.Name, o.Source)
}

// Render is `helm template --include-crds` with hooks: a client-only dry-run install
// that validates the values against values.schema.json. It returns every object, in
// the release's order, hooks last.
func Render(o Options) ([]Object, error) {
	vals, err := o.Values()
	if err != nil {
		return nil, err
	}
	chrt, err := loader.Load(o.Chart)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", o.Chart, err)
	}
	name, namespace := o.release()
	install := action.NewInstall(&action.Configuration{})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.IncludeCRDs = true
	install.ReleaseName = name
	install.Namespace = namespace
	install.KubeVersion = &KubeVersion
	rel, err := install.Run(chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", o.Chart, err)
	}
	var objs []Object
	docs := releaseutil.SplitManifests(rel.Manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	for _, k := range keys {
		obj, ok, err := parse(docs[k], false)
		if err != nil {
			return nil, err
		}
		if ok {
			objs = append(objs, obj)
		}
	}
	for _, h := range rel.Hooks {
		obj, ok, err := parse(h.Manifest, true)
		if err != nil {
			return nil, err
		}
		if ok {
			obj.Source = h.Path
			objs = append(objs, obj)
		}
	}
	return objs, nil
}

var sourceLine = regexp.MustCompile(`(?m)^# Source: (\S+)`)

// parse reads one YAML document's identity; ok is false for a document with no object.
func parse(doc string, hook bool) (Object, bool, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
		return Object{}, false, fmt.Errorf("rendered YAML does not parse: %w\n%s", err, doc)
	}
	if head.Kind == "" && head.APIVersion == "" {
		return Object{}, false, nil
	}
	obj := Object{Hook: hook, APIVersion: head.APIVersion, Kind: head.Kind, Name: head.Metadata.Name, YAML: []byte(doc)}
	if m := sourceLine.FindStringSubmatch(doc); m != nil {
		obj.Source = m[1]
	}
	return obj, true, nil
}
