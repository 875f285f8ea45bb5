// Package keys is identity: the server's host key, users' SSH public keys,
// fingerprint -> user, and the SSH authentication handlers.
package keys

import (
	"errors"
	"fmt"
	"os"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"gpcollections/domain"
)

// ParseAuthorizedKey reads one public key in authorized_keys form
// ("ssh-ed25519 AAAA... comment") into the record stored with a user.
func ParseAuthorizedKey(line string, added domain.Date) (domain.PublicKey, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return domain.PublicKey{}, errors.New("public key: empty")
	}
	pk, comment, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return domain.PublicKey{}, fmt.Errorf("public key %q: %v (want one line like \"ssh-ed25519 AAAA... you@host\")", abbreviate(line), err)
	}
	return domain.PublicKey{
		Fingerprint: gossh.FingerprintSHA256(pk),
		Line:        strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pk))),
		Comment:     comment,
		Added:       added,
	}, nil
}

// ReadAuthorizedKeyFile reads a .pub file holding one key.
func ReadAuthorizedKeyFile(path string, added domain.Date) (domain.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return domain.PublicKey{}, fmt.Errorf("public key file: %w", err)
	}
	k, err := ParseAuthorizedKey(string(b), added)
	if err != nil {
		return domain.PublicKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Fingerprint of a key as ssh-keygen -l prints it.
func Fingerprint(pk gossh.PublicKey) string { return gossh.FingerprintSHA256(pk) }

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
