package verify

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// moduleDir finds (downloading once into the module cache) a module's folder, outside this workspace.
func moduleDir(t *testing.T, modVersion string) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", modVersion)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	_ = json.Unmarshal(out, &m)
	if err != nil || m.Dir == "" {
		t.Fatalf("go mod download %s: %v %s", modVersion, err, strings.TrimSpace(m.Error))
	}
	return m.Dir
}
