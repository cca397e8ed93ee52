package meta

import "regexp"

var (
	commentRE   = regexp.MustCompile(`(?s)//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"`)
	structDefRE = regexp.MustCompile(`\bstruct\s+([A-Za-z_]\w*)\s*(?:__attribute__\s*\(\([^)]*\)\)\s*)?\{`)
)

// HeaderStructs lists the structs an export header defines, in order
// (eunomia's rule: every `struct NAME {` outside comments and strings).
func HeaderStructs(src []byte) []string {
	clean := commentRE.ReplaceAll(src, []byte(" "))
	var out []string
	seen := map[string]bool{}
	for _, m := range structDefRE.FindAllSubmatch(clean, -1) {
		name := string(m[1])
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}
