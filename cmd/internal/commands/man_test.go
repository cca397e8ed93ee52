package commands

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

func TestManPage(t *testing.T) {
	var out bytes.Buffer
	app := testApp(&out)
	app.Usage = "build *things* from [sources]"
	app.Commands[0].ArgsUsage = "SOURCE [EXTRA_HEADER.h]"
	app.Commands[0].Description = "Builds a_b.\n\nExamples:\n   prog build x.c\n   prog build -o out y.c"
	page := string(ManPage(app, "v1.2.3"))
	for _, want := range []string{
		`.TH prog 1 "" "prog v1.2.3"`,
		`prog \- build *things* from [sources]`, // markdown characters are text
		".SH COMMANDS",
		".SS prog build\n",
		"SOURCE [EXTRA_HEADER.h]",
		"Builds a_b.",
		"prog build x.c\nprog build -o out y.c", // examples keep their lines
		"--output value, -o value",
		".SS prog images rm\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "prog man") || strings.Contains(page, "\\fIthings") || strings.Contains(page, "\\&.") {
		t.Errorf("hidden command, markup or an empty sentence in the page:\n%s", page)
	}
	// groff reads it without a warning.
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("no groff")
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	if msg, err := cmd.CombinedOutput(); err != nil || len(msg) > 0 {
		t.Errorf("groff: %v\n%s", err, msg)
	}
}
