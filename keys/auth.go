package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	gossh "golang.org/x/crypto/ssh"

	"gpcollections/domain"
	"gpcollections/store"
)

// Auth decides who may sign in over SSH. Only public keys registered to an
// enabled user are accepted; there is no anonymous access.
//
// Identity comes only from the key that actually signed: Middleware reads
// s.PublicKey() once authentication has completed. PublicKeyHandler runs for
// every key a client merely offers (no proof of possession), so it may
// refuse, but it never records who the user is.
type Auth struct {
	Store *store.Store
	// Limiter throttles attempts per remote address; nil does not throttle.
	Limiter *Limiter
	// Log receives refusals; nil discards them.
	Log *slog.Logger
}

type ctxKey int

const (
	ctxUser ctxKey = iota
	ctxFingerprint
	ctxRefusal
	ctxCharged
)

// UserFrom returns the user Middleware bound to the session's context.
func UserFrom(ctx context.Context) (*domain.User, bool) {
	u, ok := ctx.Value(ctxUser).(*domain.User)
	return u, ok && u != nil
}

// FingerprintFrom returns the fingerprint of the key that signed in.
func FingerprintFrom(ctx context.Context) string {
	fp, _ := ctx.Value(ctxFingerprint).(string)
	return fp
}

func (a *Auth) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

// AllowConn is asked for every new TCP connection before the SSH key
// exchange: an address that has used up its attempts is turned away
// without spending a handshake on it.
func (a *Auth) AllowConn(remote net.Addr) bool {
	host := Host(remote)
	if a.Limiter.Exhausted(host) {
		a.log().Warn("ssh: connection refused, too many attempts", "remote", host)
		return false
	}
	return true
}

// PublicKeyHandler answers whether a key may be used: each call is one
// attempt against the address's budget, then the key must belong to an
// enabled user. It records nothing about identity (see Auth).
func (a *Auth) PublicKeyHandler(ctx ssh.Context, key ssh.PublicKey) bool {
	host := Host(ctx.RemoteAddr())
	if !a.Limiter.Allow(host) {
		ctx.SetValue(ctxRefusal, "throttled")
		a.log().Warn("ssh: attempt throttled", "remote", host)
		return false
	}
	// Accounting only: a connection that signs in gets one attempt back
	// (see Middleware). Authentication on a connection is sequential.
	if _, ok := ctx.Value(ctxCharged).(*atomic.Bool); !ok {
		ctx.SetValue(ctxCharged, new(atomic.Bool))
	}
	ctx.Value(ctxCharged).(*atomic.Bool).Store(true)
	fp := Fingerprint(key)
	u, err := a.userByKey(fp)
	switch {
	case err != nil:
		// Only the offered fingerprint is remembered, for the refusal
		// message; it is the client's own input.
		ctx.SetValue(ctxRefusal, "unknown:"+fp)
		a.log().Info("ssh: unknown key refused", "remote", host, "key", fp)
		return false
	case u.Disabled:
		// Same message as an unknown key: the key was offered without
		// proof of possession, so the account's state is not revealed.
		ctx.SetValue(ctxRefusal, "unknown:"+fp)
		a.log().Info("ssh: disabled user's key refused", "remote", host, "user", u.Name)
		return false
	}
	// A candidate only: the client has not yet proved it holds the key.
	a.log().Debug("ssh: key acceptable if signed", "remote", host, "key", fp)
	return true
}

// KeyboardInteractiveHandler never admits anyone. It exists to tell an
// interactive client, in a line OpenSSH prints, why its keys were refused;
// an SSH server cannot otherwise explain a failed public-key attempt.
func (a *Auth) KeyboardInteractiveHandler(ctx ssh.Context, challenge gossh.KeyboardInteractiveChallenge) bool {
	_, _ = challenge("", RefusalMessage(ctx, a.Limiter), nil, nil)
	return false
}

// RefusalMessage is the short explanation given to a refused client.
func RefusalMessage(ctx ssh.Context, l *Limiter) string {
	host := Host(ctx.RemoteAddr())
	if l.Exhausted(host) {
		return fmt.Sprintf("gpc: too many sign-in attempts from %s; try again in %s.", host, l.RetryAfter(host).Round(time.Second))
	}
	why, _ := ctx.Value(ctxRefusal).(string)
	if fp, ok := strings.CutPrefix(why, "unknown:"); ok {
		return fmt.Sprintf("gpc: key %s is not registered. Send your public key (the .pub file) to a gpc administrator to be added (gpc user key-add).", fp)
	}
	return "gpc: sign in with an SSH key registered to your gpc account."
}

func (a *Auth) userByKey(fp string) (*domain.User, error) {
	var u *domain.User
	err := a.Store.View(func(tx *store.Tx) error {
		var err error
		u, err = tx.UserByKey(fp)
		return err
	})
	return u, err
}

// Lookup re-reads the user holding a key, refusing a removed key or a
// disabled account with an error wrapping ErrRefused.
func (a *Auth) Lookup(fp string) (*domain.User, error) {
	u, err := a.userByKey(fp)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: key %s is no longer registered", ErrRefused, fp)
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, fmt.Errorf("%w: the account %s is disabled", ErrRefused, u.Name)
	}
	return u, nil
}

// ErrRefused means the key or its user may not (or may no longer) sign in.
var ErrRefused = errors.New("sign-in refused")

// Middleware binds the session to the user whose key actually signed:
// s.PublicKey() is the key whose signature the server verified. It refuses
// (message on stderr, exit status 1) a session with no key, a key no
// longer registered, or a disabled account. Handlers after it read the user
// with UserFrom.
func (a *Auth) Middleware() wish.Middleware {
	return func(next ssh.Handler) ssh.Handler {
		return func(s ssh.Session) {
			pk := s.PublicKey()
			if pk == nil {
				refuse(s, "gpc: sign in with an SSH key registered to your gpc account.")
				return
			}
			fp := Fingerprint(pk)
			u, err := a.Lookup(fp)
			if err != nil {
				a.log().Info("ssh: session refused", "remote", Host(s.RemoteAddr()), "key", fp, "err", err)
				if errors.Is(err, ErrRefused) {
					refuse(s, "gpc: "+strings.TrimPrefix(err.Error(), ErrRefused.Error()+": ")+".")
				} else {
					refuse(s, "gpc: cannot sign you in right now; try again shortly.")
				}
				return
			}
			// The attempt that signed in does not count against the
			// address; the connection's failed ones still do.
			if c, ok := s.Context().Value(ctxCharged).(*atomic.Bool); ok && c.CompareAndSwap(true, false) {
				a.Limiter.Refund(Host(s.RemoteAddr()))
			}
			s.Context().SetValue(ctxUser, u)
			s.Context().SetValue(ctxFingerprint, fp)
			next(s)
		}
	}
}

func refuse(s ssh.Session, msg string) {
	fmt.Fprintln(s.Stderr(), msg)
	_ = s.Exit(1)
}
