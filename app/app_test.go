package app_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"rounds/app"
)

// TestBuildMatchesTheSources rebuilds the app from src/ (and README's sync
// client) into a temporary directory and requires it to equal the
// committed dist/ that the binary embeds: `make app` after changing either.
func TestBuildMatchesTheSources(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("node_modules/esbuild"); err != nil {
		t.Fatal("the app's build tools are not installed: run `make test` (it runs npm ci in app/)")
	}
	out := t.TempDir()
	build := exec.Command("node", "build.mjs", "--out", out)
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("node build.mjs: %v\n%s", err, msg)
	}
	built := map[string][]byte{}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(out, p)
		built[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	embedded := map[string]bool{}
	err = fs.WalkDir(app.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		embedded[p] = true
		data, err := fs.ReadFile(app.Files(), p)
		if err != nil {
			return err
		}
		if want, ok := built[p]; !ok {
			t.Errorf("dist/%s is not built from the sources any more: run `make app`", p)
		} else if !bytes.Equal(data, want) {
			t.Errorf("dist/%s differs from a build of the sources: run `make app` and commit dist/", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range built {
		if !embedded[p] {
			t.Errorf("the build makes %s, which dist/ lacks: run `make app`", p)
		}
	}
}
