package sigstore

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedEvidence returns the path of the shared evidence corpus
// (../shared/testdata/evidence, see its SOURCES.md) or of $EVIDENT_TESTDATA,
// skipping the test if it is absent.
func sharedEvidence(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "evidence")
	if d := os.Getenv("EVIDENT_TESTDATA"); d != "" {
		dir = d
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared test data not available: %v", err)
	}
	return dir
}

// publicGoodRoot returns the Sigstore public-good trusted root kept next to
// the shared corpus (sigstore-roots/public-good.trusted_root.json: the copy
// sigstore-python ships for offline use, see that directory's SOURCES.md),
// skipping the test if it is absent.
func publicGoodRoot(t testing.TB) []byte {
	t.Helper()
	path := filepath.Join(sharedEvidence(t), "..", "sigstore-roots", "public-good.trusted_root.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("public-good trusted root not available: %v", err)
	}
	return b
}

// readShared reads a file of the shared corpus by its path under evidence/.
func readShared(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedEvidence(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
