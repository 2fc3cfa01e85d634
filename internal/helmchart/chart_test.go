// Package helmchart tests deploy/helm/pat-rotator with the real helm (the
// version scripts/install-helm.sh pins, installed by `make test-deps`):
// `helm lint` and `helm template` of each shape with the README's values
// (examples/helm), assertions on the rendered objects, every object checked
// against Kubernetes' own OpenAPI schemas and the Prometheus Operator's
// CRDs with unknown fields refused, the ConfigMap's configuration accepted
// by the real `pat-rotator validate`, the PrometheusRule equal to
// deploy/prometheus/alerts.yaml, and the values the chart refuses.
package helmchart

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/testkit"
)

const (
	root  = "../.."
	chart = root + "/deploy/helm/pat-rotator"
)

var (
	helmPath     string // the pinned helm, or "" with helmMissing saying why
	helmMissing  string
	rotatorPath  string // pat-rotator built from this tree
	rotatorBuild error
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	helmPath, helmMissing = findHelm()
	dir, err := os.MkdirTemp("", "helmchart-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	rotatorPath = filepath.Join(dir, "pat-rotator")
	build := exec.Command("go", "build", "-o", rotatorPath, "./cmd/pat-rotator")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		rotatorBuild = fmt.Errorf("go build ./cmd/pat-rotator: %w\n%s", err, out)
	}
	return m.Run()
}

// findHelm finds the helm scripts/install-helm.sh installs (the one home of
// its version and directory) and checks it is that version.
func findHelm() (path, missing string) {
	script, err := os.ReadFile(filepath.Join(root, "scripts", "install-helm.sh"))
	if err != nil {
		return "", err.Error()
	}
	m := regexp.MustCompile(`(?m)^HELM_VERSION=(v\S+)$`).FindSubmatch(script)
	if m == nil {
		return "", "scripts/install-helm.sh sets no HELM_VERSION"
	}
	version := string(m[1])
	tools := os.Getenv("PAT_TOOLS_DIR")
	if tools == "" {
		tools = "/tmp/pat-e2e/tools"
	}
	path = filepath.Join(tools, "helm")
	fix := fmt.Sprintf("run `make test-deps` (or `bash scripts/install-helm.sh`), which installs helm %s into %s", version, tools)
	out, err := exec.Command("go", "version", "-m", path).Output()
	if err != nil {
		return "", fmt.Sprintf("helm is not installed at %s: %s", path, fix)
	}
	if !regexp.MustCompile(`(?m)^\s+mod\s+helm\.sh/helm/v3\s+` + regexp.QuoteMeta(version) + `\s`).Match(out) {
		return "", fmt.Sprintf("%s is not helm %s: %s", path, version, fix)
	}
	return path, ""
}

// helm runs the pinned helm; it returns stdout, and stderr in the error.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	if helmPath == "" {
		t.Fatal(helmMissing)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helmPath, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// No user or cluster state: helm reads nothing of the machine's.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config",
		"HELM_DATA_HOME="+home+"/data", "KUBECONFIG="+home+"/kubeconfig")
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// object is one rendered manifest as the API server reads it (JSON types).
type object = map[string]any

// render runs `helm template` with the values files and returns the objects.
func render(t *testing.T, args ...string) ([]object, error) {
	t.Helper()
	out, err := helm(t, append([]string{"template", "pat-rotator", chart, "--namespace", "pat-rotator"}, args...)...)
	if err != nil {
		return nil, err
	}
	return decode(t, out), nil
}

func decode(t *testing.T, manifests string) []object {
	t.Helper()
	var objs []object
	dec := yaml.NewDecoder(strings.NewReader(manifests))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("helm template's output is not YAML: %v", err)
		}
		if v == nil {
			continue
		}
		// Through JSON, as kubectl sends it: numbers are float64, maps string-keyed.
		objs = append(objs, viaJSON(t, v))
	}
}

// viaJSON is v as encoding/json decodes it (also a deep copy).
func viaJSON(t *testing.T, v any) object {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var o object
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// at walks a path of map keys and list indexes ("spec", "containers", 0).
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for i, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %v", path, path[:i])
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("%v: no %q", path, k)
			}
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no item %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

func kindName(o object) string {
	meta, _ := o["metadata"].(map[string]any)
	return fmt.Sprintf("%s/%s", o["kind"], meta["name"])
}

func find(t *testing.T, objs []object, kind string) object {
	t.Helper()
	for _, o := range objs {
		if o["kind"] == kind {
			return o
		}
	}
	t.Fatalf("no %s rendered", kind)
	return nil
}

// podSpec is the pod template's spec of a Deployment or a CronJob.
func podSpec(t *testing.T, o object) map[string]any {
	t.Helper()
	if o["kind"] == "CronJob" {
		return at(t, o, "spec", "jobTemplate", "spec", "template", "spec").(map[string]any)
	}
	return at(t, o, "spec", "template", "spec").(map[string]any)
}

func TestShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values string
		kinds  []string // sorted kind/name of every rendered object
		check  func(t *testing.T, objs []object)
	}{
		{
			name:   "daemon",
			values: "daemon.yaml",
			kinds: []string{"ConfigMap/pat-rotator", "Deployment/pat-rotator", "PodDisruptionBudget/pat-rotator",
				"PrometheusRule/pat-rotator", "Service/pat-rotator", "ServiceMonitor/pat-rotator"},
			check: checkDaemon,
		},
		{
			name:   "cronjob",
			values: "cronjob.yaml",
			kinds:  []string{"ConfigMap/pat-rotator", "CronJob/pat-rotator", "PersistentVolumeClaim/pat-rotator-state"},
			check:  checkCronJob,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			values := filepath.Join(root, "examples", "helm", tt.values)
			lint, err := helm(t, "lint", "--strict", chart, "-f", values)
			if err != nil {
				t.Fatal(err)
			}
			// lint reports a template's fail() as [INFO] and still passes.
			if !strings.Contains(lint, "0 chart(s) failed") || strings.Contains(lint, "Fail:") ||
				strings.Contains(lint, "[WARNING]") || strings.Contains(lint, "[ERROR]") {
				t.Errorf("helm lint --strict -f %s:\n%s", tt.values, lint)
			}
			objs, err := render(t, "-f", values)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, kindName(o))
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.kinds) {
				t.Errorf("rendered %v, want %v", got, tt.kinds)
			}
			testkit.Golden(t, filepath.Join("testdata", tt.name+".objects"), []byte(strings.Join(got, "\n")+"\n"))
			v := schemas(t)
			for _, o := range objs {
				if err := v.Validate(o); err != nil {
					t.Errorf("%s does not conform to its schema: %v", kindName(o), err)
				}
			}
			checkPod(t, objs)
			tt.check(t, objs)
		})
	}
}

// checkPod: what both shapes share. The image's user, a read-only root, no
// privilege, every credential from a Secret, the configuration accepted by
// the real `pat-rotator validate`, the pods rolled when it changes.
func checkPod(t *testing.T, objs []object) {
	t.Helper()
	for _, o := range objs {
		if o["kind"] == "Secret" {
			t.Errorf("the chart renders a Secret (%s): credentials come only from existing Secrets", kindName(o))
		}
	}
	var workload object
	for _, o := range objs {
		if o["kind"] == "Deployment" || o["kind"] == "CronJob" {
			workload = o
		}
	}
	if workload == nil {
		t.Fatal("neither a Deployment nor a CronJob rendered")
	}
	spec := podSpec(t, workload)
	wantPod := map[string]any{"runAsNonRoot": true, "runAsUser": 65532.0, "runAsGroup": 65532.0, "fsGroup": 65532.0,
		"seccompProfile": map[string]any{"type": "RuntimeDefault"}}
	if got := spec["securityContext"]; !reflect.DeepEqual(got, wantPod) {
		t.Errorf("pod securityContext %v, want %v", got, wantPod)
	}
	if spec["automountServiceAccountToken"] != false {
		t.Error("the pod mounts a service account token; pat-rotator never calls the Kubernetes API")
	}
	c := at(t, spec, "containers", 0).(map[string]any)
	sc := c["securityContext"].(map[string]any)
	for k, want := range map[string]any{"runAsNonRoot": true, "runAsUser": 65532.0, "readOnlyRootFilesystem": true,
		"allowPrivilegeEscalation": false, "privileged": false} {
		if sc[k] != want {
			t.Errorf("container securityContext.%s = %v, want %v", k, sc[k], want)
		}
	}
	if got := at(t, sc, "capabilities", "drop"); !reflect.DeepEqual(got, []any{"ALL"}) {
		t.Errorf("capabilities.drop = %v, want [ALL]", got)
	}
	if got := at(t, sc, "seccompProfile", "type"); got != "RuntimeDefault" {
		t.Errorf("seccompProfile = %v", got)
	}
	env, _ := c["env"].([]any)
	if len(env) == 0 {
		t.Error("no credential reaches the container's environment")
	}
	for _, e := range env {
		e := e.(map[string]any)
		if _, inline := e["value"]; inline {
			t.Errorf("env %v has a value: credentials come only from Secrets", e["name"])
		}
		if at(t, e, "valueFrom", "secretKeyRef", "name") == "" {
			t.Errorf("env %v is not from a Secret", e["name"])
		}
	}
	mounts := map[string]string{}
	for _, m := range c["volumeMounts"].([]any) {
		m := m.(map[string]any)
		mounts[m["mountPath"].(string)] = m["name"].(string)
		if m["mountPath"] != "/var/lib/pat-rotator" && m["readOnly"] != true {
			t.Errorf("%s is mounted writable; only the state directory is", m["mountPath"])
		}
	}
	if mounts["/var/lib/pat-rotator"] != "state" || mounts["/etc/pat-rotator"] != "config" {
		t.Errorf("mounts %v: want the state volume at /var/lib/pat-rotator (the image's state directory) and the configuration at /etc/pat-rotator", mounts)
	}

	cm := find(t, objs, "ConfigMap")
	src := at(t, cm, "data", "rotator.yaml").(string)
	sum := sha256.Sum256([]byte(strings.TrimSuffix(src, "\n")))
	tmplPath := []any{"spec", "template"}
	if workload["kind"] == "CronJob" {
		tmplPath = []any{"spec", "jobTemplate", "spec", "template"}
	}
	tmpl := at(t, workload, tmplPath...).(map[string]any)
	if got := at(t, tmpl, "metadata", "annotations", "checksum/config"); got != hex.EncodeToString(sum[:]) {
		t.Errorf("checksum/config %v is not the configuration's sha256 %x: a changed configuration would not roll the pods", got, sum)
	}
	if rotatorBuild != nil {
		t.Fatal(rotatorBuild)
	}
	file := filepath.Join(t.TempDir(), "rotator.yaml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(rotatorPath, "validate", "--config", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": valid, ") {
		t.Errorf("pat-rotator validate refuses the ConfigMap's configuration: %v\n%s\n%s", err, out, src)
	}
	cfg, err := config.Parse("rotator.yaml", []byte(src), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	// Every *-env the configuration names is set from a Secret.
	names := map[string]bool{}
	for _, e := range env {
		names[e.(map[string]any)["name"].(string)] = true
	}
	for _, n := range []string{cfg.Groo.TokenEnv, cfg.GitHub.TokenEnv, cfg.Status.TokenEnv} {
		if n != "" && !names[n] {
			t.Errorf("the configuration reads $%s, which the container's environment lacks", n)
		}
	}
	// Every *-file it names lies under a mounted Secret.
	files := []string{cfg.Groo.TokenFile, cfg.GitHub.TokenFile, cfg.StorePasswordFile, cfg.Status.TokenFile}
	if cfg.GitHub.App != nil {
		files = append(files, cfg.GitHub.App.PrivateKeyFile)
	}
	secretVolumes := map[string]bool{}
	for _, v := range spec["volumes"].([]any) {
		v := v.(map[string]any)
		if _, ok := v["secret"]; ok {
			secretVolumes[v["name"].(string)] = true
		}
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		vol := mounts[filepath.Dir(f)]
		if !secretVolumes[vol] {
			t.Errorf("the configuration reads %s, and no Secret is mounted at %s", f, filepath.Dir(f))
		}
	}
}

func checkDaemon(t *testing.T, objs []object) {
	d := find(t, objs, "Deployment")
	if got := at(t, d, "spec", "replicas"); got != 2.0 {
		t.Errorf("replicas %v, want 2", got)
	}
	spec := podSpec(t, d)
	c := at(t, spec, "containers", 0).(map[string]any)
	wantArgs := []any{"run", "--config", "/etc/pat-rotator/rotator.yaml", "--listen", "0.0.0.0:9464"}
	if !reflect.DeepEqual(c["args"], wantArgs) {
		t.Errorf("args %v, want %v", c["args"], wantArgs)
	}
	if got := at(t, c, "ports", 0); !reflect.DeepEqual(got, map[string]any{"name": "http", "containerPort": 9464.0, "protocol": "TCP"}) {
		t.Errorf("port %v, want http 9464 (the image's EXPOSE)", got)
	}
	for probe, path := range map[string]string{"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if got := at(t, c, probe, "httpGet"); !reflect.DeepEqual(got, map[string]any{"path": path, "port": "http"}) {
			t.Errorf("%s %v, want GET %s on http", probe, got, path)
		}
	}
	grace := spec["terminationGracePeriodSeconds"].(float64)
	if grace < config.DefaultWriteWindow.Seconds()+config.DefaultLeaseMargin.Seconds()+30 {
		t.Errorf("terminationGracePeriodSeconds %v is shorter than the default shutdown timeout", grace)
	}
	if got := at(t, spec, "volumes", 1, "emptyDir"); got == nil {
		t.Error("the daemon's state directory is not an emptyDir")
	}
	selector := at(t, d, "spec", "selector", "matchLabels")
	svc := find(t, objs, "Service")
	if got := at(t, svc, "spec", "selector"); !reflect.DeepEqual(got, selector) {
		t.Errorf("the Service selects %v, the Deployment's pods are %v", got, selector)
	}
	if got := at(t, svc, "spec", "ports", 0); !reflect.DeepEqual(got, map[string]any{"name": "http", "port": 9464.0, "targetPort": "http", "protocol": "TCP"}) {
		t.Errorf("Service port %v", got)
	}
	pdb := find(t, objs, "PodDisruptionBudget")
	if got := at(t, pdb, "spec", "selector", "matchLabels"); !reflect.DeepEqual(got, selector) {
		t.Errorf("the PodDisruptionBudget selects %v, the Deployment's pods are %v", got, selector)
	}
	if got := at(t, pdb, "spec", "maxUnavailable"); got != 1.0 {
		t.Errorf("PodDisruptionBudget maxUnavailable %v, want 1", got)
	}
	sm := find(t, objs, "ServiceMonitor")
	if got := at(t, sm, "spec", "selector", "matchLabels").(map[string]any); !subset(got, at(t, svc, "metadata", "labels").(map[string]any)) {
		t.Errorf("the ServiceMonitor selects %v, not the Service's labels", got)
	}
	if got := at(t, sm, "spec", "endpoints", 0); got.(map[string]any)["port"] != "http" || got.(map[string]any)["path"] != "/metrics" {
		t.Errorf("ServiceMonitor endpoint %v, want port http path /metrics", got)
	}
	// The PrometheusRule is deploy/prometheus/alerts.yaml, every rule of it.
	b, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := decode(t, string(b))[0]
	if got := find(t, objs, "PrometheusRule")["spec"]; !reflect.DeepEqual(got, want) {
		t.Errorf("the PrometheusRule's spec is not deploy/prometheus/alerts.yaml:\n got %v\nwant %v", got, want)
	}
	if n := len(at(t, want, "groups", 0, "rules").([]any)); n < 5 {
		t.Errorf("alerts.yaml has %d rules", n)
	}
}

func subset(small, big map[string]any) bool {
	for k, v := range small {
		if big[k] != v {
			return false
		}
	}
	return true
}

func checkCronJob(t *testing.T, objs []object) {
	cj := find(t, objs, "CronJob")
	if got := at(t, cj, "spec", "schedule"); got != "0 3 * * *" {
		t.Errorf("schedule %v", got)
	}
	if got := at(t, cj, "spec", "concurrencyPolicy"); got != "Forbid" {
		t.Errorf("concurrencyPolicy %v, want Forbid: one pass at a time on one SQLite file", got)
	}
	spec := podSpec(t, cj)
	if spec["restartPolicy"] != "Never" {
		t.Errorf("restartPolicy %v", spec["restartPolicy"])
	}
	c := at(t, spec, "containers", 0).(map[string]any)
	if want := []any{"rotate", "--config", "/etc/pat-rotator/rotator.yaml"}; !reflect.DeepEqual(c["args"], want) {
		t.Errorf("args %v, want %v", c["args"], want)
	}
	for _, p := range []string{"ports", "startupProbe", "livenessProbe", "readinessProbe"} {
		if _, ok := c[p]; ok {
			t.Errorf("the CronJob's container has %s: rotate serves no HTTP", p)
		}
	}
	pvc := find(t, objs, "PersistentVolumeClaim")
	if got := at(t, spec, "volumes", 1, "persistentVolumeClaim", "claimName"); got != at(t, pvc, "metadata", "name") {
		t.Errorf("the state volume claims %v, the chart's claim is %v", got, at(t, pvc, "metadata", "name"))
	}
	if got := at(t, pvc, "metadata", "annotations", "helm.sh/resource-policy"); got != "keep" {
		t.Errorf("the store's claim is deleted with the release (resource-policy %v)", got)
	}
	cfg, err := config.Parse("rotator.yaml", []byte(at(t, find(t, objs, "ConfigMap"), "data", "rotator.yaml").(string)), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store != "sqlite:///var/lib/pat-rotator/state.db" {
		t.Errorf("store %q, want the SQLite file on the claim", cfg.Store)
	}
	if cfg.Defaults.Schedule != at(t, cj, "spec", "schedule") {
		t.Errorf("defaults.schedule %q is not the CronJob's schedule: the TTL is checked against the wrong interval", cfg.Defaults.Schedule)
	}
}

// TestOptionalObjects: with monitoring and the PodDisruptionBudget off the
// daemon shape renders no Prometheus Operator object (a cluster without its
// CRDs installs it) and no budget, and an existing claim replaces the
// chart's.
func TestOptionalObjects(t *testing.T) {
	t.Parallel()
	daemon := filepath.Join(root, "examples", "helm", "daemon.yaml")
	objs, err := render(t, "-f", daemon, "--set", "monitoring.serviceMonitor.enabled=false,monitoring.prometheusRule.enabled=false,daemon.podDisruptionBudget.enabled=false")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if k := o["kind"]; k == "ServiceMonitor" || k == "PrometheusRule" || k == "PodDisruptionBudget" {
			t.Errorf("%s rendered while turned off", kindName(o))
		}
	}
	objs, err = render(t, "-f", filepath.Join(root, "examples", "helm", "cronjob.yaml"), "--set", "cronjob.persistence.existingClaim=rotator-store")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o["kind"] == "PersistentVolumeClaim" {
			t.Errorf("%s rendered beside an existing claim", kindName(o))
		}
	}
	if got := at(t, podSpec(t, find(t, objs, "CronJob")), "volumes", 1, "persistentVolumeClaim", "claimName"); got != "rotator-store" {
		t.Errorf("claimName %v, want the existing claim", got)
	}
}

// TestRefusals: values the rotator could not run with fail `helm template`
// with the fix (the chart's checks, and values.schema.json for misspelled
// keys), before anything reaches a cluster.
func TestRefusals(t *testing.T) {
	t.Parallel()
	daemon := filepath.Join(root, "examples", "helm", "daemon.yaml")
	cronjob := filepath.Join(root, "examples", "helm", "cronjob.yaml")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown shape", []string{"-f", daemon, "--set", "shape=statefulset"}, "at '/shape': value must be one of 'daemon', 'cronjob'"},
		{"misspelled value", []string{"-f", daemon, "--set", "daemon.replica=3"}, "at '/daemon': additional properties 'replica' not allowed"},
		{"an image tag as digest", []string{"-f", daemon, "--set", "image.digest=latest"}, "at '/image/digest'"},
		{"daemon on SQLite", []string{"-f", daemon, "--set", "config.store=sqlite:///var/lib/pat-rotator/state.db"}, "the daemon shape runs its replicas on one shared store: set config.store to a PostgreSQL DSN"},
		{"SQLite off the volume", []string{"-f", cronjob, "--set", "config.store=sqlite:///tmp/state.db"}, `config.store "sqlite:///tmp/state.db" is not on the state volume`},
		{"a variable no Secret sets", []string{"-f", cronjob, "--set", "config.status.token-env=STATUS_TOKEN"}, "the configuration names the environment variable STATUS_TOKEN, but credentials.env does not set it"},
		{"a file no Secret provides", []string{"-f", daemon, "--set", "config.store-password-file=/etc/db-password"}, "the configuration reads the file /etc/db-password, which no credentials.files Secret provides"},
		{"an incomplete credential", []string{"-f", cronjob, "--set", "credentials.env[0].secretName="}, "at '/credentials/env/0/secretName': minLength"},
		{"an inline credential value", []string{"-f", cronjob, "--set", "credentials.env[0].value=x"}, "at '/credentials/env/0': additional properties 'value' not allowed"},
		{"monitoring a CronJob", []string{"-f", cronjob, "--set", "monitoring.serviceMonitor.enabled=true"}, "monitoring needs the daemon shape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs, err := render(t, tt.args...)
			if err == nil {
				t.Fatalf("rendered %d objects; want the refusal %q", len(objs), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("refused with\n%v\nwant %q", err, tt.want)
			}
		})
	}
}

// TestValidatorRefusesBrokenObjects: the schema check is not vacuous. A
// misspelled field, a wrong type and a missing required field fail it, in
// built-in kinds and in the CRDs.
func TestValidatorRefusesBrokenObjects(t *testing.T) {
	t.Parallel()
	objs, err := render(t, "-f", filepath.Join(root, "examples", "helm", "daemon.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v := schemas(t)
	tests := []struct {
		name   string
		kind   string
		mutate func(t *testing.T, o object)
		want   string // in the error
	}{
		{"misspelled container field", "Deployment", func(t *testing.T, o object) {
			c := at(t, o, "spec", "template", "spec", "containers", 0).(map[string]any)
			c["imagePulPolicy"] = c["imagePullPolicy"]
			delete(c, "imagePullPolicy")
		}, "imagePulPolicy"},
		{"misspelled securityContext field", "Deployment", func(t *testing.T, o object) {
			sc := at(t, o, "spec", "template", "spec", "containers", 0, "securityContext").(map[string]any)
			sc["readOnlyRootFileSystem"] = true
		}, "readOnlyRootFileSystem"},
		{"wrong type", "Deployment", func(t *testing.T, o object) {
			at(t, o, "spec").(map[string]any)["replicas"] = "two"
		}, "replicas"},
		{"missing required field", "Service", func(t *testing.T, o object) {
			delete(at(t, o, "spec", "ports", 0).(map[string]any), "port")
		}, "port"},
		{"unknown top-level field", "ConfigMap", func(t *testing.T, o object) {
			o["datas"] = map[string]any{}
		}, "datas"},
		{"misspelled metadata field", "ServiceMonitor", func(t *testing.T, o object) {
			at(t, o, "metadata").(map[string]any)["label"] = map[string]any{}
		}, "label"},
		{"misspelled CRD field", "ServiceMonitor", func(t *testing.T, o object) {
			at(t, o, "spec", "endpoints", 0).(map[string]any)["intervall"] = "30s"
		}, "intervall"},
		{"wrong type in a CRD", "PrometheusRule", func(t *testing.T, o object) {
			at(t, o, "spec", "groups", 0, "rules", 0).(map[string]any)["labels"] = "severity=critical"
		}, "labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := viaJSON(t, find(t, objs, tt.kind))
			if err := v.Validate(o); err != nil {
				t.Fatalf("the unbroken %s fails: %v", tt.kind, err)
			}
			tt.mutate(t, o)
			err := v.Validate(o)
			if err == nil {
				t.Fatalf("a %s with a %s passes the schema", tt.kind, tt.name)
			}
			t.Logf("refused: %.300s", err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("the error does not name %q: %v", tt.want, err)
			}
		})
	}
}

// TestPackagedChart: `helm package` stores the content of files/alerts.yaml
// (a link to deploy/prometheus/alerts.yaml, the rules' one home), so a chart
// installed from its archive renders the same rules as the checkout.
func TestPackagedChart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := helm(t, "package", chart, "--destination", dir); err != nil {
		t.Fatal(err)
	}
	archives, err := filepath.Glob(filepath.Join(dir, "pat-rotator-*.tgz"))
	if err != nil || len(archives) != 1 {
		t.Fatalf("helm package made %v (%v), want one archive", archives, err)
	}
	values := filepath.Join(root, "examples", "helm", "daemon.yaml")
	out, err := helm(t, "template", "pat-rotator", archives[0], "-f", values)
	if err != nil {
		t.Fatal(err)
	}
	fromArchive := find(t, decode(t, out), "PrometheusRule")
	fromCheckout, err := render(t, "-f", values)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromArchive["spec"], find(t, fromCheckout, "PrometheusRule")["spec"]) {
		t.Error("the packaged chart's PrometheusRule differs from the checkout's")
	}
	if n := len(at(t, fromArchive, "spec", "groups", 0, "rules").([]any)); n == 0 {
		t.Error("the packaged chart's PrometheusRule has no rules")
	}
}

// TestRulesMissing: a copy of the chart that lost the rules (the link not
// followed) refuses to render an empty PrometheusRule.
func TestRulesMissing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pat-rotator")
	if err := os.CopyFS(dir, os.DirFS(chart)); err != nil {
		t.Fatal(err)
	}
	// CopyFS copies the link itself, dangling here: replace it with an empty file.
	rules := filepath.Join(dir, "files", "alerts.yaml")
	if err := os.Remove(rules); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rules, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := helm(t, "template", "pat-rotator", dir, "-f", filepath.Join(root, "examples", "helm", "daemon.yaml"))
	if err == nil || !strings.Contains(err.Error(), "files/alerts.yaml (a link to deploy/prometheus/alerts.yaml) is missing or empty") {
		t.Errorf("a chart without its rules: %v", err)
	}
}

// TestReadmeShowsTheValues: the README's Helm section shows each values
// file the tests render, verbatim, and the commands that install them.
func TestReadmeShowsTheValues(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	for _, name := range []string{"daemon.yaml", "cronjob.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "helm", name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, "```yaml\n"+string(b)+"```\n") {
			t.Errorf("README.md does not show examples/helm/%s verbatim in a yaml block", name)
		}
		cmd := "helm install pat-rotator deploy/helm/pat-rotator --namespace pat-rotator -f examples/helm/" + name
		if !strings.Contains(text, cmd) {
			t.Errorf("README.md lacks the command %q", cmd)
		}
	}
}
