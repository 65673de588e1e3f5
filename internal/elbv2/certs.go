package elbv2

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"regexp"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// SSLPolicy is a security policy of HTTPS listeners.
type SSLPolicy struct {
	Name      string
	Protocols []string
	Ciphers   []string // in priority order
}

var (
	tls12Ciphers = []string{
		"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA256",
		"ECDHE-RSA-AES128-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
		"ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384",
	}
	tls13Ciphers = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
)

// SSLPolicies are the policies DescribeSSLPolicies answers and listeners
// accept.
func SSLPolicies() []SSLPolicy {
	legacy := append(append([]string{}, tls12Ciphers...), "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
		"ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA", "AES128-GCM-SHA256", "AES128-SHA256", "AES128-SHA",
		"AES256-GCM-SHA384", "AES256-SHA256", "AES256-SHA")
	return []SSLPolicy{
		{"ELBSecurityPolicy-2016-08", []string{"TLSv1", "TLSv1.1", "TLSv1.2"}, legacy},
		{"ELBSecurityPolicy-TLS13-1-2-2021-06", []string{"TLSv1.2", "TLSv1.3"}, append(append([]string{}, tls13Ciphers...), tls12Ciphers...)},
		{"ELBSecurityPolicy-TLS13-1-2-Res-2021-06", []string{"TLSv1.2", "TLSv1.3"}, append(append([]string{}, tls13Ciphers...), tls12Ciphers[:2]...)},
		{"ELBSecurityPolicy-TLS13-1-3-2021-06", []string{"TLSv1.3"}, tls13Ciphers},
		{"ELBSecurityPolicy-TLS-1-2-2017-01", []string{"TLSv1.2"}, tls12Ciphers},
		{"ELBSecurityPolicy-FS-1-2-Res-2020-10", []string{"TLSv1.2"}, tls12Ciphers[:4]},
	}
}

// certARNRe is the certificate ARNs fargo accepts: ACM's form.
var certARNRe = regexp.MustCompile(`^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate/([A-Za-z0-9-]{1,64})$`)

func certID(arn string) (string, error) {
	m := certARNRe.FindStringSubmatch(arn)
	if m == nil {
		return "", newErr(errdefs.ErrNotFound, CodeCertificateNotFound, "Certificate '%s' not found: fargo accepts ACM certificate ARNs (arn:aws:acm:<region>:<account>:certificate/<id>) and generates a self-signed certificate for each", arn)
	}
	return m[1], nil
}

// ensureCerts generates the certificates of arns that the scope does not
// have yet (inside the listener's transaction).
func ensureCerts(tx store.Tx, s tenant.Scope, lb *LoadBalancer, arns []string) error {
	for _, arn := range arns {
		id, err := certID(arn)
		if err != nil {
			return err
		}
		if _, err := tx.Get(certKey(s, id)); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		c, err := generateCert(arn, lb)
		if err != nil {
			return err
		}
		if err := store.PutJSON(tx, certKey(s, id), c); err != nil {
			return err
		}
	}
	return nil
}

// generateCert makes a self-signed ECDSA P-256 certificate valid for the
// load balancer's DNS name, *.elb.amazonaws.com of its region, and its
// address.
func generateCert(arn string, lb *LoadBalancer) (*Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: lb.DNSName, Organization: []string{"fargo"}, OrganizationalUnit: []string{arn}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{lb.DNSName, "localhost"},
	}
	if lb.Addr.IsValid() {
		tmpl.IPAddresses = []net.IP{net.IP(lb.Addr.AsSlice())}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("generate certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Certificate{
		ARN:     arn,
		CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		KeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})),
	}, nil
}

// tlsCert loads a stored certificate.
func (c *Certificate) tlsCert() (tls.Certificate, error) {
	return tls.X509KeyPair([]byte(c.CertPEM), []byte(c.KeyPEM))
}
