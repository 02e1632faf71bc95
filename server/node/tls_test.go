package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
)

// TestTLS: with a certificate the node serves HTTPS, and Connect over
// HTTP/2 works against it.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	m := newMember(t, "tls")
	n, err := Start(Config{Data: m.dir, Signer: m.signer, LogKey: m.logKey, Cosigner: m.cosigner, TLSCert: certFile, TLSKey: keyFile, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	c := evidentv1connect.NewLogServiceClient(hc, "https://"+n.Addr().String())
	resp, err := c.GetCheckpoint(context.Background(), connect.NewRequest(&evidentv1.GetCheckpointRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Msg.GetOrigin() != m.logKey.Name() {
		t.Fatalf("origin %q", resp.Msg.GetOrigin())
	}
	// The tiles API is served over HTTP/2 on the same listener.
	r, err := hc.Get("https://" + n.Addr().String() + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK || r.ProtoMajor != 2 {
		t.Fatalf("GET /checkpoint over TLS: %s, %s", r.Status, r.Proto)
	}
	// Cleartext is refused on a TLS listener.
	if r, err := http.Get("http://" + n.Addr().String() + "/checkpoint"); err == nil {
		r.Body.Close()
		if r.StatusCode != http.StatusBadRequest {
			t.Fatalf("a TLS node answered cleartext HTTP with %s", r.Status)
		}
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}
