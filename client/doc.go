// Package client talks to Evident nodes and verifies what they say.
//
// A [Client] is bound to one node and the public key of that node's log. It
// submits DSSE envelopes ([Client.Submit], [Client.SubmitBatch], and any
// number of them in batches, a few calls at once, with retries:
// [Client.SubmitBulk]), fetches and verifies checkpoints
// ([Client.Checkpoint]), asks for the evidence about a release
// ([Client.Query]), assembles offline bundles ([Client.Bundle]) and audits
// that the log only ever grows ([Client.Audit]).
//
// Nothing a node says is believed until it is verified: a checkpoint must
// carry a valid signature by the log key (and, when a witness policy ([policy.WitnessPolicy]) is
// configured, cosignatures that meet its quorum); an entry must be proven
// included in such a checkpoint and must parse; an envelope must hash to the
// digest its entry commits to. Items that fail are returned marked as
// failed, with the reason, never silently dropped.
//
// The verification functions ([VerifyCheckpoint], [VerifyEvidence],
// [VerifyBundle], [ParseBundle], [ParseProof]) are pure: they do no I/O and
// take no context, so a bundle kept for ten years can be checked on a machine
// that is not on any network. BUNDLE.md specifies the bundle format.
package client
