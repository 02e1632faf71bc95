package witnesstest_test

import (
	"testing"

	"github.com/evident-dev/evident/witness"
	"github.com/evident-dev/evident/witness/witnesstest"
)

func TestMemoryStore(t *testing.T) {
	witnesstest.TestStore(t, func() witness.Store { return witnesstest.NewMemoryStore() })
}
