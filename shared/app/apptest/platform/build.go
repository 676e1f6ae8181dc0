package platform

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The binaries the platform runs, built once per test binary from this
// checkout, as `make build` builds them.
var commands = []string{"./auth/cmd/auth", "./education/cmd/education", "./finance/cmd/finance",
	"./gateway/cmd/gateway", "./scripts/devkafka"}

var built struct {
	once sync.Once
	dir  string
	err  error
}

// Main runs the tests of a package that uses the platform and then removes
// the binaries built for them. Call it from TestMain:
//
//	func TestMain(m *testing.M) { platform.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// Binary returns the path of a platform binary (auth, education, finance,
// gateway, devkafka), building them all on first use — with -race when the
// tests run with it.
func Binary(t testing.TB, name string) string {
	t.Helper()
	built.once.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			built.err = err
			return
		}
		if built.dir, err = os.MkdirTemp("", "azora-platform-"); err != nil {
			built.err = err
			return
		}
		args := []string{"build", "-o", built.dir + string(os.PathSeparator)}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, commands...)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return filepath.Join(built.dir, name)
}

// ModuleRoot returns the directory of the module's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the module")
	}
	return filepath.Dir(mod), nil
}
