package deploy

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/capability"
	"github.com/ecc-bpf/ecc/packager/ociimage"
	"github.com/ecc-bpf/ecc/packager/section"
)

// Defaults and fixed places in the container.
const (
	// ImageRepository is the ecli image's repository; DefaultImage adds
	// ecc's version as the tag.
	ImageRepository = "ghcr.io/ecc-bpf/ecli"
	// EcliPath is ecli in the image ecc ecli-image builds.
	EcliPath = ociimage.EcliPath
	// DefaultNamespace is where the objects go without --namespace.
	DefaultNamespace = "default"
	// DefaultMetricsPort serves /metrics and /healthz (ecli run --metrics).
	DefaultMetricsPort = 9090
	// ConfigDir holds the ConfigMap (keys, policy).
	ConfigDir = "/etc/ecc"
	// KeysDir holds the --verify-key files.
	KeysDir = ConfigDir + "/keys"
	// PolicyPath is the --policy file.
	PolicyPath = ConfigDir + "/policy.json"
	// DockerConfigDir holds the pull secret's config.json ($DOCKER_CONFIG),
	// beside ConfigDir: a mount inside a read-only ConfigMap volume could
	// not be made.
	DockerConfigDir = "/etc/ecc-docker"
	// StateDir is an emptyDir for ecli's store and caches.
	StateDir = "/var/lib/ecc"
	// HostRoot is where uprobe packages see the node's root file system.
	HostRoot = "/host"
	// MetricsPath and HealthPath are ecli run --metrics' endpoints.
	MetricsPath = "/metrics"
	HealthPath  = "/healthz"
)

// Resources of the container: requests and a memory limit. A probe's
// maps are kernel memory, charged to the pod's cgroup on kernels ≥ 5.11;
// raise the limit for packages with large maps.
const (
	CPURequest    = "50m"
	MemoryRequest = "64Mi"
	MemoryLimit   = "256Mi"
)

// Labels every object carries.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "ecc"
)

// DefaultImage is the ecli image of ecc's version, tagged as make image
// tags it: the version with "+" made "-" (v1.2.3 → ghcr.io/ecc-bpf/ecli:v1.2.3;
// a pseudo-version of a commit stays as it is); "latest" for a build
// without a version ("devel") or one no tag can spell.
func DefaultImage(version string) string {
	tag := strings.ReplaceAll(version, "+", "-")
	if version == "devel" || !tagRegexp.MatchString(tag) {
		tag = "latest"
	}
	return ImageRepository + ":" + tag
}

// Options say what to deploy and where. Generate does not modify them.
type Options struct {
	// Ref is the package's reference, as the nodes' ecli pulls it.
	Ref string
	// Image is the ecli image (default: DefaultImage of Version).
	Image   string
	Version string
	// Namespace (default "default") and Name (default: the last element
	// of Ref's repository, made a DNS-1123 label) of the objects.
	Namespace string
	Name      string
	// NodeSelector limits the DaemonSet to matching nodes.
	NodeSelector map[string]string
	// MetricsPort (default DefaultMetricsPort) serves /metrics, /healthz.
	MetricsPort int
	// PullSecret names a kubernetes.io/dockerconfigjson Secret: the
	// kubelet's credentials for the image and ecli's for Ref.
	PullSecret string
	// PodMonitor adds a monitoring.coreos.com/v1 PodMonitor.
	PodMonitor bool
	// VerifyKeys are PEM public key files (ecli run --verify-key), Policy
	// a policy file (ecli run --policy); they go into a ConfigMap.
	VerifyKeys []string
	Policy     string
	// IfName is the node's interface for XDP, tc and socket programs.
	IfName string
	// HostPID shares the node's PID namespace even without uprobes (for
	// ecli's user-space symbols of other processes).
	HostPID bool
	// AddCaps are capabilities granted besides those the programs need.
	AddCaps []string
	// ProgramArgs follow Ref on ecli's command line (program flags).
	ProgramArgs []string
}

// FlagError is an option that cannot be used, named by its flag.
type FlagError struct {
	Flag string // e.g. "--name"
	Msg  string
}

func (e *FlagError) Error() string { return e.Flag + ": " + e.Msg }

// Manifests are the objects of one deployment, in the order they are
// applied.
type Manifests struct {
	ConfigMap  *corev1.ConfigMap // nil without keys or policy
	DaemonSet  *appsv1.DaemonSet
	PodMonitor *monitoringv1.PodMonitor // nil without Options.PodMonitor
	// Needs are the capabilities the programs need besides CAP_BPF and
	// CAP_PERFMON (packager/capability), with why.
	Needs capability.Needs
}

// Objects are the manifests' objects in the order to apply them.
func (m *Manifests) Objects() []any {
	var out []any
	if m.ConfigMap != nil {
		out = append(out, m.ConfigMap)
	}
	out = append(out, m.DaemonSet)
	if m.PodMonitor != nil {
		out = append(out, m.PodMonitor)
	}
	return out
}

// WriteYAML writes the objects as one YAML stream, documents separated by
// "---", as kubectl apply -f - reads it.
func (m *Manifests) WriteYAML(w io.Writer) error {
	docs, err := m.documents()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	for i, d := range docs {
		y, err := yaml.Marshal(d)
		if err != nil {
			return fmt.Errorf("write manifests: %w", err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// List is the objects as one Kubernetes v1 List, the JSON form kubectl
// apply -f - reads as well as the YAML stream.
func (m *Manifests) List() (map[string]any, error) {
	docs, err := m.documents()
	if err != nil {
		return nil, err
	}
	return map[string]any{"apiVersion": "v1", "kind": "List", "items": docs}, nil
}

// documents are the objects as JSON trees without the status the API
// server fills in (a DaemonSet's zero counts), which has no place in a
// manifest.
func (m *Manifests) documents() ([]map[string]any, error) {
	var out []map[string]any
	for _, o := range m.Objects() {
		j, err := json.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("write manifests: %w", err)
		}
		var doc map[string]any
		if err := json.Unmarshal(j, &doc); err != nil {
			return nil, fmt.Errorf("write manifests: %w", err)
		}
		delete(doc, "status")
		out = append(out, doc)
	}
	return out, nil
}

// Generate makes the manifests that run p (read from o.Ref) on every
// node. Options that cannot be used are *FlagError.
func Generate(p *packager.Package, o *Options) (*Manifests, error) {
	if p == nil || p.Object == nil {
		return nil, errors.New("the package has no BPF object (a Wasm-only package or a NAME.skel.json): ecc deploy needs its programs")
	}
	spec, err := bpfobj.LoadSpec(p.Object)
	if err != nil {
		return nil, fmt.Errorf("read the package's BPF object: %w", err)
	}
	d, err := settle(o)
	if err != nil {
		return nil, err
	}
	progs := plan(spec)
	m := &Manifests{Needs: capability.Of(spec, progs.kinds)}
	if progs.net && o.IfName == "" {
		return nil, &FlagError{"--ifname", fmt.Sprintf("the package attaches %s to a network interface: name the nodes' interface (e.g. --ifname eth0)", progs.netWhat)}
	}

	labels := map[string]string{LabelName: d.name, LabelManagedBy: ManagedBy}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: d.namespace, Labels: maps.Clone(labels)}
	}

	args := []string{"run", "--pull=always", "--metrics", ":" + strconv.Itoa(d.port), "--format", "json"}
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	env := []corev1.EnvVar{
		{Name: "HOME", Value: StateDir},
		{Name: "ECC_STORE_DIR", Value: StateDir + "/store"},
		{Name: "ECC_CACHE_DIR", Value: StateDir + "/cache"},
	}
	hostPath := func(name, p string, t corev1.HostPathType, mountAt string, ro bool) {
		volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: p, Type: &t}}})
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: mountAt, ReadOnly: ro})
	}
	emptyDir := func(name, mountAt string) {
		volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: mountAt})
	}
	hostPath("tracefs", "/sys/kernel/tracing", corev1.HostPathDirectory, "/sys/kernel/tracing", false)
	hostPath("bpffs", "/sys/fs/bpf", corev1.HostPathDirectory, "/sys/fs/bpf", false)
	hostPath("cgroup", "/sys/fs/cgroup", corev1.HostPathDirectory, "/sys/fs/cgroup", true)
	emptyDir("state", StateDir)
	emptyDir("tmp", "/tmp")

	// Keys and the policy, in one ConfigMap mounted at ConfigDir.
	files, keyArgs, err := configFiles(o)
	if err != nil {
		return nil, err
	}
	args = append(args, keyArgs...)
	if len(files) > 0 {
		cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta(d.name + "-config"), Data: map[string]string{}}
		var items []corev1.KeyToPath
		for _, f := range files {
			cm.Data[f.key] = f.data
			items = append(items, corev1.KeyToPath{Key: f.key, Path: f.path})
		}
		m.ConfigMap = cm
		volumes = append(volumes, corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}, Items: items}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "config", MountPath: ConfigDir, ReadOnly: true})
	}

	// The pull secret: the kubelet's, and ecli's docker config.
	var pullSecrets []corev1.LocalObjectReference
	if o.PullSecret != "" {
		pullSecrets = []corev1.LocalObjectReference{{Name: o.PullSecret}}
		volumes = append(volumes, corev1.Volume{Name: "docker-config", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: o.PullSecret, Items: []corev1.KeyToPath{{Key: corev1.DockerConfigJsonKey, Path: "config.json"}}}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "docker-config", MountPath: DockerConfigDir, ReadOnly: true})
		env = append(env, corev1.EnvVar{Name: "DOCKER_CONFIG", Value: DockerConfigDir})
	}

	// Uprobes: the node's PIDs and files.
	hostPID := o.HostPID || progs.user
	if progs.user {
		hostPath("host", "/", corev1.HostPathDirectory, HostRoot, true)
		mounts[len(mounts)-1].MountPropagation = ptr(corev1.MountPropagationHostToContainer)
		env = append(env,
			corev1.EnvVar{Name: "PATH", Value: "/usr/local/bin:" + underHost("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")},
			corev1.EnvVar{Name: "LD_LIBRARY_PATH", Value: underHost(
				"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
				"/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib")})
		args = append(args, progs.userArgs...)
	}
	if o.IfName != "" {
		args = append(args, "--ifname", o.IfName)
	}
	if progs.cgroup {
		args = append(args, "--cgroup", "/sys/fs/cgroup")
	}
	args = append(args, o.Ref)
	args = append(args, o.ProgramArgs...)

	caps := []corev1.Capability{"BPF", "PERFMON", "SYS_RESOURCE"}
	for _, c := range m.Needs.Caps() {
		if c == "CAP_DAC_READ_SEARCH" {
			continue // user 0 owns tracefs
		}
		caps = append(caps, corev1.Capability(strings.TrimPrefix(c, "CAP_")))
	}
	if progs.cgroup {
		caps = append(caps, "NET_ADMIN")
	}
	if progs.usdt {
		caps = append(caps, "SYS_ADMIN") // kernels before 6.6 attach USDT with PMU uprobes
	}
	for _, c := range d.addCaps {
		caps = append(caps, corev1.Capability(c))
	}
	caps = uniq(caps)
	sysAdmin := slices.Contains(caps, "SYS_ADMIN")

	port := int32(d.port)
	container := corev1.Container{
		Name:            "ecli",
		Image:           d.image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{EcliPath},
		Args:            args,
		Env:             env,
		Ports:           []corev1.ContainerPort{{Name: "metrics", ContainerPort: port, Protocol: corev1.ProtocolTCP}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: HealthPath, Port: intstr.FromString("metrics")}},
			InitialDelaySeconds: 2, PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 3,
		},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(CPURequest), corev1.ResourceMemory: resource.MustParse(MemoryRequest)},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(MemoryLimit)},
		},
		VolumeMounts: mounts,
		SecurityContext: &corev1.SecurityContext{
			Privileged: ptr(false),
			// Kubernetes refuses allowPrivilegeEscalation: false with CAP_SYS_ADMIN.
			AllowPrivilegeEscalation: ptr(sysAdmin),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: caps},
			RunAsUser:                ptr(int64(0)),
			RunAsNonRoot:             ptr(false),
			ReadOnlyRootFilesystem:   ptr(true),
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}

	pod := corev1.PodSpec{
		Containers:         []corev1.Container{container},
		NodeSelector:       d.nodeSelector,
		HostPID:            hostPID,
		HostNetwork:        progs.net,
		ImagePullSecrets:   pullSecrets,
		Volumes:            volumes,
		EnableServiceLinks: ptr(false),
	}
	if progs.net {
		pod.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	ds := &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: meta(d.name),
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelName: d.name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels: maps.Clone(labels),
					Annotations: map[string]string{
						"prometheus.io/scrape": "true",
						"prometheus.io/port":   strconv.Itoa(d.port),
						"prometheus.io/path":   MetricsPath,
						"ecc-bpf.io/package":   o.Ref,
					},
				},
				Spec: pod,
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
		},
	}
	m.DaemonSet = ds

	if o.PodMonitor {
		m.PodMonitor = &monitoringv1.PodMonitor{
			TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PodMonitorsKind},
			ObjectMeta: meta(d.name),
			Spec: monitoringv1.PodMonitorSpec{
				Selector:            metav1.LabelSelector{MatchLabels: map[string]string{LabelName: d.name}},
				PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{Port: ptr("metrics"), Path: MetricsPath}},
			},
		}
	}
	return m, nil
}

// settled are the Options with defaults applied and checked.
type settled struct {
	name, namespace, image string
	port                   int
	nodeSelector           map[string]string
	addCaps                []string
}

func settle(o *Options) (*settled, error) {
	d := &settled{name: o.Name, namespace: o.Namespace, image: o.Image, port: o.MetricsPort}
	if o.Ref == "" {
		return nil, errors.New("no package reference to deploy")
	}
	if d.name == "" {
		d.name = NameOf(o.Ref)
		if d.name == "" {
			return nil, &FlagError{"--name", fmt.Sprintf("%q gives no name usable in Kubernetes: give one (a DNS label: lower-case letters, digits, '-')", o.Ref)}
		}
	} else if errs := validation.IsDNS1123Label(d.name); len(errs) > 0 {
		return nil, &FlagError{"--name", fmt.Sprintf("%q is not a DNS-1123 label: %s", d.name, strings.Join(errs, "; "))}
	}
	// The ConfigMap is NAME-config: keep room for the suffix.
	if len(d.name) > validation.DNS1123LabelMaxLength-len("-config") {
		return nil, &FlagError{"--name", fmt.Sprintf("%q is longer than %d characters", d.name, validation.DNS1123LabelMaxLength-len("-config"))}
	}
	if d.namespace == "" {
		d.namespace = DefaultNamespace
	} else if errs := validation.IsDNS1123Label(d.namespace); len(errs) > 0 {
		return nil, &FlagError{"--namespace", fmt.Sprintf("%q is not a namespace name: %s", d.namespace, strings.Join(errs, "; "))}
	}
	if d.image == "" {
		d.image = DefaultImage(o.Version)
	} else if strings.ContainsAny(d.image, " \t\r\n") {
		return nil, &FlagError{"--image", fmt.Sprintf("%q is not an image reference", d.image)}
	}
	if d.port == 0 {
		d.port = DefaultMetricsPort
	} else if errs := validation.IsValidPortNum(d.port); len(errs) > 0 {
		return nil, &FlagError{"--metrics-port", fmt.Sprintf("%d: %s", d.port, strings.Join(errs, "; "))}
	}
	for _, k := range slices.Sorted(maps.Keys(o.NodeSelector)) {
		v := o.NodeSelector[k]
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, &FlagError{"--node-selector", fmt.Sprintf("%q is not a label key: %s", k, strings.Join(errs, "; "))}
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, &FlagError{"--node-selector", fmt.Sprintf("%q is not a label value (for %s): %s", v, k, strings.Join(errs, "; "))}
		}
		if d.nodeSelector == nil {
			d.nodeSelector = map[string]string{}
		}
		d.nodeSelector[k] = v
	}
	if o.PullSecret != "" {
		if errs := validation.IsDNS1123Subdomain(o.PullSecret); len(errs) > 0 {
			return nil, &FlagError{"--pull-secret", fmt.Sprintf("%q is not a Secret name: %s", o.PullSecret, strings.Join(errs, "; "))}
		}
	}
	if o.IfName != "" && (len(o.IfName) > 15 || strings.ContainsAny(o.IfName, "/ \t\n:")) {
		return nil, &FlagError{"--ifname", fmt.Sprintf("%q is not a network interface name", o.IfName)}
	}
	for _, c := range o.AddCaps {
		c = strings.ToUpper(strings.TrimPrefix(strings.ToUpper(c), "CAP_"))
		if !capRegexp.MatchString(c) {
			return nil, &FlagError{"--add-cap", fmt.Sprintf("%q is not a capability name (e.g. SYS_ADMIN)", c)}
		}
		d.addCaps = append(d.addCaps, c)
	}
	return d, nil
}

// tagRegexp is what an OCI tag may be.
var tagRegexp = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

var capRegexp = regexp.MustCompile(`^[A-Z][A-Z_]{1,30}$`)

// NameOf makes a DNS-1123 label of the last element of ref's repository
// (ghcr.io/org/probes/exec_snoop:v1 → "exec-snoop"); "" when nothing of
// it is left.
func NameOf(ref string) string {
	repo := ref
	if at := strings.IndexByte(repo, '@'); at >= 0 {
		repo = repo[:at]
	}
	if c := strings.LastIndexByte(repo, ':'); c > strings.LastIndexByte(repo, '/') {
		repo = repo[:c]
	}
	base := strings.ToLower(path.Base(repo))
	var b strings.Builder
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	for strings.Contains(name, "--") {
		name = strings.ReplaceAll(name, "--", "-")
	}
	if max := validation.DNS1123LabelMaxLength - len("-config"); len(name) > max {
		name = strings.TrimRight(name[:max], "-")
	}
	if len(validation.IsDNS1123Label(name)) > 0 {
		return ""
	}
	return name
}

// programs is what the package's programs ask of the pod.
type programs struct {
	kinds    map[string]section.Kind
	net      bool   // attached to an interface: the node's network
	netWhat  string // what, for the --ifname message
	cgroup   bool   // attached to a cgroup: --cgroup /sys/fs/cgroup
	user     bool   // uprobes: the node's PIDs and files
	usdt     bool   // USDT probes
	userArgs []string
}

func plan(spec *ebpf.CollectionSpec) *programs {
	p := &programs{kinds: map[string]section.Kind{}}
	for _, name := range slices.Sorted(maps.Keys(spec.Programs)) {
		ps := spec.Programs[name]
		if strings.HasPrefix(ps.SectionName, "?") {
			continue // not loaded by default
		}
		kind := capability.KindOf(ps)
		if kind == section.None || kind == section.Manual {
			continue
		}
		p.kinds[name] = kind
		switch kind {
		case section.XDP, section.TC, section.TCX, section.SocketFilter:
			if !p.net {
				p.netWhat = map[section.Kind]string{section.XDP: "XDP", section.TC: "tc", section.TCX: "tcx", section.SocketFilter: "a socket filter"}[kind]
			}
			p.net = true
		case section.Cgroup:
			p.cgroup = true
		case section.Uprobe, section.Uretprobe, section.UprobeMulti, section.UretprobeMulti:
			p.user = true
			if bin := sectionBinary(ps.SectionName, false); bin != "" && (kind == section.Uprobe || kind == section.Uretprobe) {
				p.userArgs = append(p.userArgs, "--uprobe", name+"="+HostRoot+bin)
			}
		case section.USDT:
			p.user, p.usdt = true, true
			_, extra, _ := strings.Cut(ps.SectionName, "/")
			if bin := sectionBinary(ps.SectionName, true); bin != "" {
				rest := strings.TrimPrefix(extra, bin)
				p.userArgs = append(p.userArgs, "--usdt", name+"="+HostRoot+bin+rest)
			}
		}
	}
	return p
}

// sectionBinary is the absolute binary a uprobe or usdt section names
// (uprobe//bin/bash:readline → /bin/bash), "" when it names none or a
// command or library, which PATH and LD_LIBRARY_PATH find under /host.
func sectionBinary(sec string, usdt bool) string {
	_, extra, ok := strings.Cut(sec, "/")
	if !ok || !strings.HasPrefix(extra, "/") {
		return ""
	}
	i := strings.LastIndexByte(extra, ':')
	if usdt && i > 0 {
		i = strings.LastIndexByte(extra[:i], ':')
	}
	if i <= 0 {
		return ""
	}
	return extra[:i]
}

func underHost(dirs ...string) string {
	for i, d := range dirs {
		dirs[i] = HostRoot + d
	}
	return strings.Join(dirs, ":")
}

// file is one entry of the ConfigMap: its key, its path under ConfigDir
// and its text.
type file struct{ key, path, data string }

// maxConfigSize is what a ConfigMap holds (1 MiB, etcd's object limit).
const maxConfigSize = 1 << 20

var keyNameRegexp = regexp.MustCompile(`[^-._a-zA-Z0-9]+`)

// configFiles reads the keys and the policy into ConfigMap entries and
// returns ecli's flags for them. A policy's key files (relative to the
// policy's folder, as ecli reads them) are shipped too, and the policy
// shipped names them as keys/NAME.pub, beside it.
func configFiles(o *Options) ([]file, []string, error) {
	var files []file
	var args []string
	size := 0
	used := map[string]bool{}
	addKey := func(flag, name string) (string, error) {
		data, err := readKey(name)
		if err != nil {
			return "", &FlagError{flag, err.Error()}
		}
		base := keyNameRegexp.ReplaceAllString(strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)), "-")
		base = strings.Trim(base, ".-")
		if base == "" {
			base = "key"
		}
		key := base + ".pub"
		for i := 2; used[key]; i++ {
			key = base + "-" + strconv.Itoa(i) + ".pub"
		}
		used[key] = true
		size += len(data)
		files = append(files, file{key: key, path: "keys/" + key, data: string(data)})
		return key, nil
	}
	for _, k := range o.VerifyKeys {
		key, err := addKey("--verify-key", k)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, "--verify-key", KeysDir+"/"+key)
	}
	if o.Policy != "" {
		data, err := os.ReadFile(o.Policy)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, nil, &FlagError{"--policy", fmt.Sprintf("read %s: %v", o.Policy, err)}
		}
		var policy map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&policy); err != nil {
			return nil, nil, &FlagError{"--policy", fmt.Sprintf("%s is not a JSON policy: %v", o.Policy, err)}
		}
		rules, _ := policy["rules"].([]any)
		for i, r := range rules {
			rule, _ := r.(map[string]any)
			keys, _ := rule["keys"].([]any)
			for j, k := range keys {
				name, ok := k.(string)
				if !ok {
					return nil, nil, &FlagError{"--policy", fmt.Sprintf("%s: rule %d: key %d is not a file name", o.Policy, i+1, j+1)}
				}
				if !filepath.IsAbs(name) {
					name = filepath.Join(filepath.Dir(o.Policy), name)
				}
				key, err := addKey("--policy", name)
				if err != nil {
					return nil, nil, err
				}
				// Relative to the policy's folder, as ecli reads them:
				// KeysDir where the ConfigMap is mounted.
				keys[j] = "keys/" + key
			}
		}
		out, err := json.MarshalIndent(policy, "", "  ")
		if err != nil {
			return nil, nil, &FlagError{"--policy", err.Error()}
		}
		size += len(out)
		files = append(files, file{key: "policy.json", path: "policy.json", data: string(out) + "\n"})
		args = append(args, "--policy", PolicyPath)
	}
	if size > maxConfigSize {
		return nil, nil, &FlagError{"--verify-key", fmt.Sprintf("the keys and policy are %d bytes, more than a ConfigMap holds (%d)", size, maxConfigSize)}
	}
	return files, args, nil
}

// readKey reads a PEM public key file, refusing anything else (a private
// key above all: it would be published in the ConfigMap).
func readKey(name string) ([]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("read %s: %v", name, pe.Err)
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	block, _ := pem.Decode(data)
	switch {
	case block == nil:
		return nil, fmt.Errorf("%s is not a PEM public key (ecc key generate writes one, NAME.pub)", name)
	case block.Type != "PUBLIC KEY":
		return nil, fmt.Errorf("%s holds a %s, not a PUBLIC KEY: give the .pub file, never the private key", name, block.Type)
	}
	return data, nil
}

func uniq(caps []corev1.Capability) []corev1.Capability {
	var out []corev1.Capability
	for _, c := range caps {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
