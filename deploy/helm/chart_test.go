package helm

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/release"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const chartDir = "fedcrypt"

// The values of the releases under test, as an operator would write them.
const (
	aggregatorValues = `
role: aggregator
image: {repository: registry.example/fedcrypt, digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
federation: {config: '{"name": "federation"}', caCert: "-----BEGIN CERTIFICATE-----\n"}
identity: {existingSecret: aggregator-identity}
serviceMonitor: {enabled: true, labels: {release: prometheus}}
`
	resumingAggregatorValues = `
role: aggregator
federation: {existingConfigMap: fed}
identity: {existingSecret: aggregator-identity}
aggregator: {resume: true, runDir: run-2, service: {type: LoadBalancer}}
networkPolicy: {members: [{ipBlock: {cidr: 203.0.113.7/32}}], metricsNamespace: ""}
`
	memberValues = `
role: member
federation: {existingConfigMap: fed}
identity: {existingSecret: hospital-a-identity}
member:
  id: a
  aggregatorAddress: fedcrypt-aggregator.fed.svc.cluster.local:7443
  data: {existingClaim: hospital-a-data, file: hospital-1.csv.age}
`
	protectedMemberValues = `
role: member
federation: {existingConfigMap: fed}
identity:
  existingSecret: hospital-b-identity
  protected: true
  passphrase:
    volume: {csi: {driver: secrets-store.csi.k8s.io, readOnly: true, volumeAttributes: {secretProviderClass: hospital-b}}}
member:
  id: b
  aggregatorAddress: agg.example.org:443
  serverName: agg.example.org
  data: {existingClaim: hospital-b-data}
networkPolicy: {aggregator: [{ipBlock: {cidr: 198.51.100.4/32}}]}
`
	passphraseSecretMemberValues = `
role: member
federation: {existingConfigMap: fed}
identity: {existingSecret: hospital-c-identity, protected: true, passphrase: {existingSecret: hospital-c-passphrase}}
member: {id: c, aggregatorAddress: "[2001:db8::1]:7443", data: {existingClaim: hospital-c-data}}
`
)

func parseValues(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("test values: %v", err)
	}
	return v
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return c
}

// render installs the chart with vals as a client-only dry run, the way
// "helm install --dry-run=client" does, and returns the manifest.
func render(t *testing.T, releaseName, vals string) (string, error) {
	t.Helper()
	inst := action.NewInstall(action.NewConfiguration())
	inst.DryRunStrategy = action.DryRunClient
	inst.ReleaseName = releaseName
	inst.Namespace = "fed"
	inst.KubeVersion = &common.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"}
	inst.APIVersions = common.VersionSet{"monitoring.coreos.com/v1"}
	rel, err := inst.Run(loadChart(t), parseValues(t, vals))
	if err != nil {
		return "", err
	}
	acc, err := release.NewAccessor(rel)
	if err != nil {
		t.Fatal(err)
	}
	return acc.Manifest(), nil
}

// objects are the objects of one rendered release, decoded strictly.
type objects struct {
	statefulSets    []*appsv1.StatefulSet
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	networkPolicies []*networkingv1.NetworkPolicy
	serviceMonitors []*monitoringv1.ServiceMonitor
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// decode splits a manifest into its documents and decodes each strictly
// (unknown or duplicate fields fail) as the Kubernetes type its kind names;
// an unexpected kind fails too, so every object is checked.
func decode(t *testing.T, manifest string) objects {
	t.Helper()
	var objs objects
	for _, doc := range docSeparator.Split(manifest, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var head metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		var err error
		switch gvk := head.APIVersion + "/" + head.Kind; gvk {
		case "apps/v1/StatefulSet":
			objs.statefulSets = append(objs.statefulSets, strict[appsv1.StatefulSet](doc, &err))
		case "v1/Service":
			objs.services = append(objs.services, strict[corev1.Service](doc, &err))
		case "v1/ConfigMap":
			objs.configMaps = append(objs.configMaps, strict[corev1.ConfigMap](doc, &err))
		case "networking.k8s.io/v1/NetworkPolicy":
			objs.networkPolicies = append(objs.networkPolicies, strict[networkingv1.NetworkPolicy](doc, &err))
		case "monitoring.coreos.com/v1/ServiceMonitor":
			objs.serviceMonitors = append(objs.serviceMonitors, strict[monitoringv1.ServiceMonitor](doc, &err))
		default:
			t.Fatalf("unexpected object %s in the chart's output", gvk)
		}
		if err != nil {
			t.Fatalf("%s does not decode strictly: %v\n%s", head.Kind, err, doc)
		}
	}
	return objs
}

// strict decodes doc as a T the way the API server's strict field
// validation does: field names match case-sensitively (encoding/json
// would take "readonly" for readOnly), and unknown or duplicate fields fail.
func strict[T any](doc string, errp *error) *T {
	v := new(T)
	j, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		*errp = err
		return v
	}
	strictErrs, err := kjson.UnmarshalStrict(j, v, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err == nil {
		err = errors.Join(strictErrs...)
	}
	*errp = err
	return v
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestLint(t *testing.T) {
	for name, vals := range map[string]string{"aggregator": aggregatorValues, "resuming aggregator": resumingAggregatorValues,
		"member": memberValues, "protected member": protectedMemberValues, "member with passphrase Secret": passphraseSecretMemberValues} {
		t.Run(name, func(t *testing.T) {
			l := lint.RunAll(chartDir, parseValues(t, vals), "fed")
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("lint: %v", m)
				}
			}
		})
	}
}

// theStatefulSet returns the release's only StatefulSet and its only
// container.
func theStatefulSet(t *testing.T, objs objects) (*appsv1.StatefulSet, *corev1.Container) {
	t.Helper()
	if len(objs.statefulSets) != 1 {
		t.Fatalf("%d StatefulSets, want 1", len(objs.statefulSets))
	}
	s := objs.statefulSets[0]
	if n := len(s.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers, want 1", n)
	}
	return s, &s.Spec.Template.Spec.Containers[0]
}

// checkCommon checks what every release's pod must have, whatever its role.
func checkCommon(t *testing.T, objs objects) {
	t.Helper()
	s, c := theStatefulSet(t, objs)
	pod := s.Spec.Template.Spec
	if s.Spec.Replicas == nil || *s.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want 1", s.Spec.Replicas)
	}
	sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(s.Spec.Template.Labels)) {
		t.Errorf("the StatefulSet's selector %v does not select its own pods %v (%v)", s.Spec.Selector, s.Spec.Template.Labels, err)
	}
	if len(s.Spec.VolumeClaimTemplates) != 1 || s.Spec.VolumeClaimTemplates[0].Name != "state" ||
		s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().IsZero() {
		t.Errorf("volume claim templates %+v, want one named state with a storage request", s.Spec.VolumeClaimTemplates)
	}
	if p := s.Spec.PersistentVolumeClaimRetentionPolicy; p == nil || p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
		p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("claim retention %+v, want Retain on delete and on scale-down", p)
	}
	if !hasMount(c, "state", "/var/lib/fedcrypt", false) {
		t.Errorf("the state claim is not mounted writable at /var/lib/fedcrypt: %+v", c.VolumeMounts)
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v: want runAsNonRoot, a non-zero user, seccomp RuntimeDefault", psc)
	}
	csc := c.SecurityContext
	if csc == nil || csc.RunAsNonRoot == nil || !*csc.RunAsNonRoot || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
		csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation || csc.Capabilities == nil ||
		len(csc.Capabilities.Drop) != 1 || csc.Capabilities.Drop[0] != "ALL" || len(csc.Capabilities.Add) != 0 {
		t.Errorf("container security context %+v: want runAsNonRoot, a read-only root, no escalation, ALL capabilities dropped", csc)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token it never uses")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want CPU and memory requests and a memory limit", c.Resources)
	}
	if !hasMount(c, "identity", "/etc/fedcrypt/identity", true) || !hasMount(c, "federation", "/etc/fedcrypt/federation", true) {
		t.Errorf("identity and federation are not mounted read-only: %+v", c.VolumeMounts)
	}
	// Every file a flag names is on a mounted volume.
	for _, a := range c.Args {
		flag, path, ok := strings.Cut(a, "=")
		if !ok || !strings.HasPrefix(path, "/") {
			continue
		}
		if !mounted(c, path) {
			t.Errorf("%s=%s: no volume is mounted there", flag, path)
		}
	}
	for _, svc := range objs.services {
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(s.Spec.Template.Labels)) {
			t.Errorf("Service %s selects %v, not the pods %v", svc.Name, svc.Spec.Selector, s.Spec.Template.Labels)
		}
	}
}

func hasMount(c *corev1.Container, volume, path string, readOnly bool) bool {
	for _, m := range c.VolumeMounts {
		if m.Name == volume && m.MountPath == path && m.ReadOnly == readOnly {
			return true
		}
	}
	return false
}

func mounted(c *corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return true
		}
	}
	return false
}

// secretVolume returns the name of the Secret a pod volume projects, "" if
// the volume is missing or not a Secret.
func secretVolume(s *appsv1.StatefulSet, name string) string {
	for _, v := range s.Spec.Template.Spec.Volumes {
		if v.Name == name && v.Secret != nil {
			return v.Secret.SecretName
		}
	}
	return ""
}

func args(c *corev1.Container) string { return " " + strings.Join(c.Args, " ") + " " }

func TestAggregator(t *testing.T) {
	manifest, err := render(t, "agg", aggregatorValues)
	if err != nil {
		t.Fatal(err)
	}
	objs := decode(t, manifest)
	checkCommon(t, objs)
	s, c := theStatefulSet(t, objs)
	if a := args(c); !strings.HasPrefix(a, " aggregator serve ") || strings.Contains(a, "--resume") ||
		!strings.Contains(a, " --out=/var/lib/fedcrypt/run ") || !strings.Contains(a, " --metrics=:9090 ") {
		t.Errorf("args%s: want aggregator serve with --out on the claim, --metrics, and no --resume on a new run", a)
	}
	if want := "registry.example/fedcrypt@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; c.Image != want {
		t.Errorf("image %q, want %q", c.Image, want)
	}
	if secretVolume(s, "identity") != "aggregator-identity" {
		t.Errorf("the identity volume does not project Secret aggregator-identity: %+v", s.Spec.Template.Spec.Volumes)
	}
	metricsPort := containerPort(c, "metrics")
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		want := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}[name]
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Port.String() != "metrics" || metricsPort == 0 {
			t.Errorf("%s probe %+v: want GET %s on the metrics port", name, p, want)
		}
	}
	if len(objs.configMaps) != 1 || objs.configMaps[0].Data["federation.json"] != `{"name": "federation"}` || objs.configMaps[0].Data["ca.crt"] == "" {
		t.Errorf("ConfigMaps %+v: want one with federation.json and ca.crt from the values", objs.configMaps)
	}
	if len(objs.services) != 3 {
		t.Fatalf("%d Services, want the headless one, gRPC and metrics", len(objs.services))
	}
	for _, svc := range objs.services {
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer || svc.Spec.Type == corev1.ServiceTypeNodePort {
			for _, p := range svc.Spec.Ports {
				if p.Name == "metrics" {
					t.Errorf("Service %s exposes metrics outside the cluster", svc.Name)
				}
			}
		}
	}
	if len(objs.serviceMonitors) != 1 || len(objs.serviceMonitors[0].Spec.Endpoints) != 1 ||
		objs.serviceMonitors[0].Spec.Endpoints[0].Port != "metrics" || objs.serviceMonitors[0].Labels["release"] != "prometheus" {
		t.Errorf("ServiceMonitors %+v: want one scraping the metrics port, with the extra label", objs.serviceMonitors)
	}

	// The network policy: the aggregator pod, the members' pods on gRPC,
	// the monitoring namespace on metrics, no egress.
	members := decode(t, mustRender(t, "hospital-a", memberValues))
	ms, _ := theStatefulSet(t, members)
	np := onePolicy(t, objs)
	if !selects(t, np.Spec.PodSelector, s) || selects(t, np.Spec.PodSelector, ms) {
		t.Errorf("the aggregator's policy selects %v: want the aggregator's pods only", np.Spec.PodSelector)
	}
	if len(np.Spec.Ingress) != 2 {
		t.Fatalf("%d ingress rules, want gRPC and metrics", len(np.Spec.Ingress))
	}
	grpc, metrics := np.Spec.Ingress[0], np.Spec.Ingress[1]
	if len(grpc.Ports) != 1 || grpc.Ports[0].Port.String() != "grpc" || len(grpc.From) != 1 ||
		!selects(t, *grpc.From[0].PodSelector, ms) || selects(t, *grpc.From[0].PodSelector, s) {
		t.Errorf("gRPC ingress %+v: want the grpc port, from member pods only", grpc)
	}
	if len(metrics.Ports) != 1 || metrics.Ports[0].Port.String() != "metrics" || len(metrics.From) != 1 ||
		metrics.From[0].PodSelector != nil || metrics.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
		t.Errorf("metrics ingress %+v: want the metrics port, from the monitoring namespace", metrics)
	}
	if len(np.Spec.Egress) != 0 || !hasPolicyType(np, networkingv1.PolicyTypeEgress) {
		t.Errorf("egress %+v (types %v): the aggregator opens no connection", np.Spec.Egress, np.Spec.PolicyTypes)
	}
}

func TestResumingAggregator(t *testing.T) {
	objs := decode(t, mustRender(t, "agg", resumingAggregatorValues))
	checkCommon(t, objs)
	_, c := theStatefulSet(t, objs)
	if a := args(c); !strings.Contains(a, " --resume ") || !strings.Contains(a, " --out=/var/lib/fedcrypt/run-2 ") {
		t.Errorf("args%s: want --resume of the run in run-2", a)
	}
	if len(objs.configMaps) != 0 || len(objs.serviceMonitors) != 0 {
		t.Errorf("%d ConfigMaps, %d ServiceMonitors: want none with an existing ConfigMap and monitoring off", len(objs.configMaps), len(objs.serviceMonitors))
	}
	np := onePolicy(t, objs)
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 1 || np.Spec.Ingress[0].From[0].IPBlock == nil ||
		np.Spec.Ingress[0].From[0].IPBlock.CIDR != "203.0.113.7/32" {
		t.Errorf("ingress %+v: want gRPC from the listed hospital only, and no scraper", np.Spec.Ingress)
	}
}

func TestMember(t *testing.T) {
	objs := decode(t, mustRender(t, "hospital-a", memberValues))
	checkCommon(t, objs)
	s, c := theStatefulSet(t, objs)
	a := args(c)
	for _, want := range []string{" client join ", " --member=a ", " --ledger=/var/lib/fedcrypt/ledger ",
		" --identity=/etc/fedcrypt/identity/identity.key ", " --data=/data/hospital-1.csv.age ",
		" --aggregator=fedcrypt-aggregator.fed.svc.cluster.local:7443 "} {
		if !strings.Contains(a, want) {
			t.Errorf("args%s: missing%s", a, want)
		}
	}
	if strings.Contains(a, "--passphrase-file") {
		t.Errorf("args%s: a plain identity needs no passphrase", a)
	}
	if secretVolume(s, "identity") != "hospital-a-identity" || !hasMount(c, "identity", "/etc/fedcrypt/identity", true) {
		t.Errorf("the identity Secret hospital-a-identity is not mounted read-only: %+v", c.VolumeMounts)
	}
	if !hasMount(c, "data", "/data", true) {
		t.Errorf("the data is not mounted read-only: %+v", c.VolumeMounts)
	}
	if len(objs.services) != 1 || objs.services[0].Spec.ClusterIP != corev1.ClusterIPNone || len(objs.services[0].Spec.Ports) != 0 {
		t.Errorf("Services %+v: a member exposes nothing, only the headless Service of its StatefulSet", objs.services)
	}
	if c.LivenessProbe != nil || c.ReadinessProbe != nil || len(c.Ports) != 0 {
		t.Errorf("a member listens on no port, so has no probes: %+v", c)
	}

	agg := decode(t, mustRender(t, "agg", aggregatorValues))
	as, _ := theStatefulSet(t, agg)
	np := onePolicy(t, objs)
	if !selects(t, np.Spec.PodSelector, s) || selects(t, np.Spec.PodSelector, as) {
		t.Errorf("the member's policy selects %v: want its own pods only", np.Spec.PodSelector)
	}
	if len(np.Spec.Ingress) != 0 || !hasPolicyType(np, networkingv1.PolicyTypeIngress) {
		t.Errorf("ingress %+v (types %v): a member accepts nothing", np.Spec.Ingress, np.Spec.PolicyTypes)
	}
	if len(np.Spec.Egress) != 2 {
		t.Fatalf("%d egress rules, want the aggregator and DNS", len(np.Spec.Egress))
	}
	toAgg := np.Spec.Egress[0]
	if len(toAgg.Ports) != 1 || toAgg.Ports[0].Port.IntValue() != 7443 || len(toAgg.To) != 1 ||
		!selects(t, *toAgg.To[0].PodSelector, as) || selects(t, *toAgg.To[0].PodSelector, s) {
		t.Errorf("egress %+v: want port 7443 of the aggregator's pods only", toAgg)
	}
}

func TestProtectedMember(t *testing.T) {
	for name, vals := range map[string]string{"CSI volume": protectedMemberValues, "Secret": passphraseSecretMemberValues} {
		t.Run(name, func(t *testing.T) {
			objs := decode(t, mustRender(t, "hospital", vals))
			checkCommon(t, objs)
			s, c := theStatefulSet(t, objs)
			a := args(c)
			if !strings.Contains(a, " --identity=/etc/fedcrypt/identity/identity.age ") ||
				!strings.Contains(a, " --passphrase-file=/etc/fedcrypt/passphrase/passphrase ") {
				t.Errorf("args%s: want the protected identity.age and --passphrase-file", a)
			}
			if !hasMount(c, "passphrase", "/etc/fedcrypt/passphrase", true) {
				t.Errorf("the passphrase is not mounted read-only: %+v", c.VolumeMounts)
			}
			var items []corev1.KeyToPath
			for _, v := range s.Spec.Template.Spec.Volumes {
				switch {
				case v.Name == "identity" && v.Secret != nil:
					items = v.Secret.Items
				case v.Name == "passphrase" && name == "CSI volume" && (v.CSI == nil || v.CSI.Driver != "secrets-store.csi.k8s.io"):
					t.Errorf("passphrase volume %+v: want the CSI driver's", v)
				case v.Name == "passphrase" && name == "Secret" && (v.Secret == nil || v.Secret.SecretName != "hospital-c-passphrase"):
					t.Errorf("passphrase volume %+v: want Secret hospital-c-passphrase", v)
				}
			}
			if len(items) == 0 || items[0].Key != "identity.age" {
				t.Errorf("identity Secret items %+v: want identity.age first", items)
			}
		})
	}
	// The port of an address given as [IPv6]:port.
	np := onePolicy(t, decode(t, mustRender(t, "hospital-c", passphraseSecretMemberValues)))
	if p := np.Spec.Egress[0].Ports[0].Port.IntValue(); p != 7443 {
		t.Errorf("egress port %d for [2001:db8::1]:7443, want 7443", p)
	}
}

// TestBadValuesFail checks that wrong values fail the install with a line
// naming the value, through the chart's schema or its templates' checks.
func TestBadValuesFail(t *testing.T) {
	for _, tc := range []struct{ name, vals, want string }{
		{"unknown role", "role: witness\nidentity: {existingSecret: s}\nfederation: {existingConfigMap: f}", "/role"},
		{"two replicas", "replicas: 2\nidentity: {existingSecret: s}\nfederation: {existingConfigMap: f}", "/replicas"},
		{"no identity", "federation: {existingConfigMap: f}", "identity.existingSecret is required"},
		{"no federation", "identity: {existingSecret: s}", "federation: give existingConfigMap"},
		{"protected without passphrase", "identity: {existingSecret: s, protected: true}\nfederation: {existingConfigMap: f}", "identity.protected"},
		{"member without id", "role: member\nidentity: {existingSecret: s}\nfederation: {existingConfigMap: f}\nmember: {aggregatorAddress: a:1, data: {existingClaim: d}}", "member.id is required"},
		{"member without port", "role: member\nidentity: {existingSecret: s}\nfederation: {existingConfigMap: f}\nmember: {id: a, aggregatorAddress: agg, data: {existingClaim: d}}", "want host:port"},
		{"run directory outside the claim", "aggregator: {runDir: ../etc}\nidentity: {existingSecret: s}\nfederation: {existingConfigMap: f}", "aggregator.runDir"},
		{"misspelt value", "member: {ID: a}\nidentity: {existingSecret: s}\nfederation: {existingConfigMap: f}", "ID"},
		{"member without data", "role: member\nidentity: {existingSecret: s}\nfederation: {existingConfigMap: f}\nmember: {id: a, aggregatorAddress: a:1}", "member.data.existingClaim"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, "bad", tc.vals)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func mustRender(t *testing.T, name, vals string) string {
	t.Helper()
	m, err := render(t, name, vals)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func onePolicy(t *testing.T, objs objects) *networkingv1.NetworkPolicy {
	t.Helper()
	if len(objs.networkPolicies) != 1 {
		t.Fatalf("%d NetworkPolicies, want 1", len(objs.networkPolicies))
	}
	return objs.networkPolicies[0]
}

// selects reports whether sel selects the pods of s.
func selects(t *testing.T, sel metav1.LabelSelector, s *appsv1.StatefulSet) bool {
	t.Helper()
	ls, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		t.Fatalf("selector %v: %v", sel, err)
	}
	return !ls.Empty() && ls.Matches(labels.Set(s.Spec.Template.Labels))
}

func hasPolicyType(np *networkingv1.NetworkPolicy, pt networkingv1.PolicyType) bool {
	for _, p := range np.Spec.PolicyTypes {
		if p == pt {
			return true
		}
	}
	return false
}

func containerPort(c *corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}
