package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/evident-dev/evident/evidence"
)

func (a *app) keygenCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "keygen [-o FILE]",
		Short: "Make an Ed25519 signing key for evidence",
		Long: `Keygen makes an Ed25519 signing key and writes it, readable only by you, as a
PKCS #8 PEM file (the form "openssl genpkey -algorithm ed25519" writes). It
never overwrites a file.

It prints the public key in the form a node's evidentd.yaml lists trusted
submitters (submitters[].key), and the key id that signatures and log entries
name. Give the public key to the operator of your node.

The default file is --key, $EVIDENT_KEY, the configuration's key, or
signing.key in the configuration directory; attest reads the same one.`,
		Example: `  evident keygen
  evident keygen -o release-manager.key --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := out
			if path == "" {
				p, err := a.keyPath()
				if err != nil {
					return err
				}
				path = p
			}
			pub, priv, err := evidence.GenerateKey(nil)
			if err != nil {
				return err
			}
			pem, err := evidence.MarshalPrivateKey(priv)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return fmt.Errorf("couldn't create the key's directory: %w", err)
			}
			if err := writeNewFile(path, pem, 0o600); err != nil {
				return err
			}
			if a.jsonOut {
				return json.NewEncoder(a.stdout).Encode(map[string]string{
					"file": path, "public_key": evidence.FormatPublicKey(pub), "key_id": evidence.KeyID(pub),
				})
			}
			fmt.Fprintf(a.stderr, "wrote the private key to %s; keep it secret\n", path)
			fmt.Fprintf(a.stdout, "public key: %s\nkey id:     %s\n", evidence.FormatPublicKey(pub), evidence.KeyID(pub))
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write the key to this file")
	a.addJSONFlag(c, "the file, public key and key id")
	return c
}

// writeNewFile writes a file that must not exist yet.
func writeNewFile(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: not overwriting it", path)
	}
	if err != nil {
		return fmt.Errorf("couldn't create %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	return f.Close()
}
