package client

import (
	"errors"
	"fmt"

	"github.com/evident-dev/evident/policy"
)

// checkQuorum is the one place the client evaluates a witness policy
// (c2sp.org/tlog-policy): "a checkpoint is considered valid if it is signed
// by any one of the listed logs, and it is cosigned by witnesses according
// to the defined quorum rule". The caller has already verified the log's
// signature with the key it was configured with; the policy must list the
// log too.
func checkQuorum(pol *policy.WitnessPolicy, signed []byte) error {
	_, err := pol.Verify(signed)
	var qe *policy.QuorumError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, policy.ErrUnknownLog):
		return fmt.Errorf("the witness policy lists no log that signed this checkpoint; add a \"log <vkey>\" line for it to the policy (%w)", err)
	case errors.As(err, &qe):
		if len(qe.Cosigned) == 0 {
			return fmt.Errorf("no witness of the policy cosigned the checkpoint; quorum %q is not met", qe.Quorum)
		}
		return fmt.Errorf("cosigned only by %v, which doesn't meet quorum %q", qe.Cosigned, qe.Quorum)
	default:
		return err
	}
}
