package helmchart

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"

	"github.com/groo/pat-action/internal/audit/reportschema"
)

// The schemas the rendered objects are checked against: Kubernetes' own
// OpenAPI v3 documents (api/openapi-spec/v3 of the kubernetes module) and
// the Prometheus Operator's CRDs (example/prometheus-operator-crd), both
// fetched through the Go module proxy into the module cache.
const (
	kubernetesModule = "k8s.io/kubernetes@v1.37.2"
	operatorModule   = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
)

// moduleDir is where `go mod download` put a module (downloading it once
// per machine; ~21 MB for kubernetes).
func moduleDir(mod string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	// Outside this module (a download with module@version changes no go.mod).
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("go mod download %s: %w\n%s%s", mod, err, out, ee.Stderr)
		}
		return "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", mod, info.Error)
	}
	return info.Dir, nil
}

// validator checks objects against the schema of their apiVersion and kind.
type validator struct {
	kubeDir string // api/openapi-spec/v3 of the kubernetes module
	crdDir  string // the operator's CRDs

	mu   sync.Mutex
	docs map[string]*openapi3.T // by file name
	crds map[string]*openapi3.Schema
}

var (
	sharedValidator     *validator
	sharedValidatorErr  error
	sharedValidatorOnce sync.Once
)

// schemas is the validator the tests share (the documents load once).
func schemas(t *testing.T) *validator {
	t.Helper()
	sharedValidatorOnce.Do(func() {
		kube, err := moduleDir(kubernetesModule)
		if err != nil {
			sharedValidatorErr = err
			return
		}
		op, err := moduleDir(operatorModule)
		if err != nil {
			sharedValidatorErr = err
			return
		}
		sharedValidator = &validator{
			kubeDir: filepath.Join(kube, "api", "openapi-spec", "v3"),
			crdDir:  filepath.Join(op, "example", "prometheus-operator-crd"),
			docs:    map[string]*openapi3.T{},
			crds:    map[string]*openapi3.Schema{},
		}
	})
	if sharedValidatorErr != nil {
		t.Fatalf("the Kubernetes schemas are not available (the module proxy must be reachable once): %v", sharedValidatorErr)
	}
	return sharedValidator
}

// doc loads one of Kubernetes' OpenAPI v3 documents, made strict: an
// undeclared field fails.
func (v *validator) doc(file string) (*openapi3.T, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if d, ok := v.docs[file]; ok {
		return d, nil
	}
	b, err := os.ReadFile(filepath.Join(v.kubeDir, file))
	if err != nil {
		return nil, fmt.Errorf("the Kubernetes schema of this apiVersion: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	// Kubernetes' schemas leave additionalProperties open (the API server
	// drops or warns about unknown fields): a misspelled field would pass.
	reportschema.ForbidExtraProperties(raw)
	if b, err = json.Marshal(raw); err != nil {
		return nil, err
	}
	d, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	v.docs[file] = d
	return d, nil
}

// kubeSchema is the schema of a built-in kind, found by its
// x-kubernetes-group-version-kind in the document of its group version.
func (v *validator) kubeSchema(apiVersion, kind string) (*openapi3.Schema, error) {
	group, version, found := strings.Cut(apiVersion, "/")
	file := "api__v1_openapi.json"
	if found {
		file = fmt.Sprintf("apis__%s__%s_openapi.json", group, version)
	} else {
		group, version = "", apiVersion
	}
	d, err := v.doc(file)
	if err != nil {
		return nil, err
	}
	for _, ref := range d.Components.Schemas {
		gvks, _ := ref.Value.Extensions["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			m, _ := g.(map[string]any)
			if m["group"] == group && m["version"] == version && m["kind"] == kind {
				return ref.Value, nil
			}
		}
	}
	return nil, fmt.Errorf("no schema for %s %s in %s", apiVersion, kind, file)
}

// crdSchema is the openAPIV3Schema of a Prometheus Operator kind's version,
// made strict.
func (v *validator) crdSchema(apiVersion, kind string) (*openapi3.Schema, error) {
	group, version, _ := strings.Cut(apiVersion, "/")
	key := apiVersion + " " + kind
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.crds[key]; ok {
		return s, nil
	}
	file := filepath.Join(v.crdDir, fmt.Sprintf("%s_%ss.yaml", group, strings.ToLower(kind)))
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("no CRD for %s %s: %w", apiVersion, kind, err)
	}
	var crd struct {
		Spec struct {
			Group string
			Names struct{ Kind string }
			// Versions[].Schema.OpenAPIV3Schema
			Versions []struct {
				Name   string
				Schema struct {
					OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
				}
			}
		}
	}
	if err := yaml.Unmarshal(b, &crd); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if crd.Spec.Group != group || crd.Spec.Names.Kind != kind {
		return nil, fmt.Errorf("%s defines %s %s, not %s", file, crd.Spec.Group, crd.Spec.Names.Kind, key)
	}
	for _, ver := range crd.Spec.Versions {
		if ver.Name != version {
			continue
		}
		raw := ver.Schema.OpenAPIV3Schema
		reportschema.ForbidExtraProperties(raw)
		jb, err := json.Marshal(raw)
		if err != nil {
			return nil, err
		}
		var s openapi3.Schema
		if err := json.Unmarshal(jb, &s); err != nil {
			return nil, fmt.Errorf("%s %s: %w", file, version, err)
		}
		v.crds[key] = &s
		return &s, nil
	}
	return nil, fmt.Errorf("%s has no version %s", file, version)
}

// Validate checks one object (decoded from JSON) against its kind's schema.
// A custom resource's metadata, which its CRD leaves as any object, is
// checked against Kubernetes' ObjectMeta.
func (v *validator) Validate(obj map[string]any) error {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "" || kind == "" {
		return errors.New("the object has no apiVersion or kind")
	}
	if strings.HasPrefix(apiVersion, "monitoring.coreos.com/") {
		s, err := v.crdSchema(apiVersion, kind)
		if err != nil {
			return err
		}
		if err := s.VisitJSON(obj, openapi3.MultiErrors()); err != nil {
			return fmt.Errorf("%s %s: %w", apiVersion, kind, err)
		}
		meta, err := v.objectMeta()
		if err != nil {
			return err
		}
		if err := meta.VisitJSON(obj["metadata"], openapi3.MultiErrors()); err != nil {
			return fmt.Errorf("%s %s metadata: %w", apiVersion, kind, err)
		}
		return nil
	}
	s, err := v.kubeSchema(apiVersion, kind)
	if err != nil {
		return err
	}
	if err := s.VisitJSON(obj, openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("%s %s: %w", apiVersion, kind, err)
	}
	return nil
}

func (v *validator) objectMeta() (*openapi3.Schema, error) {
	d, err := v.doc("api__v1_openapi.json")
	if err != nil {
		return nil, err
	}
	ref := d.Components.Schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
	if ref == nil || ref.Value == nil {
		return nil, errors.New("api__v1_openapi.json has no ObjectMeta")
	}
	return ref.Value, nil
}
