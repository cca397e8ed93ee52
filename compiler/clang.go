package compiler

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/ecc-bpf/ecc/packager"
)

// MinClangMajor is the oldest clang we accept: older ones lack BTF features
// (BTF_KIND_FLOAT, decl tags) and CO-RE relocations libbpf-style programs need.
const MinClangMajor = 14

// newestClangMajor is where discovery starts counting down.
const newestClangMajor = 30

// ErrNoClang is returned when no usable clang is found.
var ErrNoClang = errors.New("no clang found")

// Clang is a discovered clang binary.
type Clang struct {
	// Path is the command as found (e.g. /usr/bin/clang-19).
	Path string
	// Version is the full version, e.g. "19.1.7".
	Version string
	// Major is the major version, e.g. 19.
	Major int
	// IncludeDirs are the system include directories clang searches for
	// host programs, passed to BPF builds with -idirafter.
	IncludeDirs []string
	// id identifies the binary (resolved path, size, mtime) for cache keys.
	id string
}

// FindClang returns the clang to use. An explicit path or command name
// (--clang, or ECC_CLANG when explicit is empty) is used as given; otherwise
// the newest of clang-30 … clang-14 on PATH, then plain clang. Clang's version
// and include dirs are cached under cacheDir, keyed by the binary's identity.
func FindClang(explicit, cacheDir string) (*Clang, error) {
	if explicit == "" {
		explicit = os.Getenv("ECC_CLANG")
	}
	if explicit != "" {
		p, err := exec.LookPath(explicit)
		if err != nil {
			return nil, fmt.Errorf("%w: --clang %q: %w; install clang-19 (apt-get install clang-19) or point --clang/ECC_CLANG at a clang binary", ErrNoClang, explicit, err)
		}
		return probeClang(p, cacheDir)
	}
	var candidates []string
	for v := newestClangMajor; v >= MinClangMajor; v-- {
		candidates = append(candidates, "clang-"+strconv.Itoa(v))
	}
	candidates = append(candidates, "clang")
	var tooOld error
	for _, c := range candidates {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		cl, err := probeClang(p, cacheDir)
		if err != nil {
			if tooOld == nil {
				tooOld = err
			}
			continue
		}
		return cl, nil
	}
	if tooOld != nil {
		return nil, tooOld
	}
	return nil, fmt.Errorf("%w on PATH (looked for clang-%d … clang-%d and clang); install one: apt-get install clang-19 (or clang), or pass --clang PATH", ErrNoClang, newestClangMajor, MinClangMajor)
}

func clangID(path string) (string, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(resolved)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s|%d|%d", resolved, st.Size(), st.ModTime().UnixNano()), nil
}

// probeClang asks clang for its version and include dirs, through a cache file
// so that repeated builds do not pay for two extra clang runs.
func probeClang(path, cacheDir string) (*Clang, error) {
	id, err := clangID(path)
	if err != nil {
		return nil, fmt.Errorf("clang %s: %w", path, err)
	}
	sum := sha256.Sum256([]byte(id))
	cacheFile := ""
	if cacheDir != "" {
		cacheFile = filepath.Join(cacheDir, "clang", hex.EncodeToString(sum[:8])+".json")
		if b, err := os.ReadFile(cacheFile); err == nil {
			var c Clang
			if json.Unmarshal(b, &c) == nil && c.Major > 0 {
				c.Path, c.id = path, id
				return &c, nil
			}
		}
	}
	c := &Clang{Path: path, id: id}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s --version failed: %w", ErrNoClang, path, err)
	}
	c.Version, c.Major = parseClangVersion(string(out))
	if c.Major == 0 {
		return nil, fmt.Errorf("%w: %s does not look like clang (version output %q)", ErrNoClang, path, firstLine(string(out)))
	}
	if c.Major < MinClangMajor {
		return nil, fmt.Errorf("%w: %s is clang %s; ecc needs clang %d or newer for BTF and CO-RE (apt-get install clang-19)", ErrNoClang, path, c.Version, MinClangMajor)
	}
	// System include dirs as clang reports them for the host.
	cmd := exec.Command(path, "-v", "-E", "-x", "c", "-")
	cmd.Stdin = strings.NewReader("")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s -v -E: %v: %s", path, err, stderr.String())
	}
	c.IncludeDirs = parseIncludeDirs(stderr.String())
	if cacheFile != "" {
		if b, err := json.Marshal(c); err == nil {
			os.MkdirAll(filepath.Dir(cacheFile), 0o755)
			packager.WriteFileAtomic(cacheFile, b, 0o644)
		}
	}
	return c, nil
}

func (c *Clang) MarshalJSON() ([]byte, error) {
	type plain struct {
		Version     string
		Major       int
		IncludeDirs []string
	}
	return json.Marshal(plain{c.Version, c.Major, c.IncludeDirs})
}

var versionRE = regexp.MustCompile(`clang version (\d+)\.(\d+)(?:\.(\d+))?`)

func parseClangVersion(out string) (string, int) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return "", 0
	}
	major, _ := strconv.Atoi(m[1])
	v := m[1] + "." + m[2]
	if m[3] != "" {
		v += "." + m[3]
	}
	return v, major
}

// parseIncludeDirs reads the "#include <...> search starts here:" list from
// clang -v output.
func parseIncludeDirs(out string) []string {
	var dirs []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#include <...> search starts here:"):
			in = true
		case strings.HasPrefix(line, "End of search list."):
			in = false
		case in && strings.HasPrefix(line, " "):
			d := strings.TrimSpace(line)
			d = strings.TrimSuffix(d, " (framework directory)")
			dirs = append(dirs, d)
		}
	}
	return dirs
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
