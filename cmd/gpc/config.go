package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
)

// Config is every setting, resolved in this order, later winning:
// defaults < DIR/gpc.toml < GPC_* environment < command-line flags.
// The key of each setting is its toml tag; its environment variable is GPC_
// and the key upper-cased; its flag is the key with '-' for '_'.
type Config struct {
	Data         string        `toml:"data"`
	As           string        `toml:"as"`
	Listen       string        `toml:"listen"`
	Workers      int           `toml:"workers"`
	IdleTimeout  time.Duration `toml:"idle_timeout"`
	MaxSession   time.Duration `toml:"max_session"`
	MaxAuthTries int           `toml:"max_auth_tries"`
	AuthPerMin   int           `toml:"auth_per_minute"`
	Retries      int           `toml:"retries"`
	RetryBackoff time.Duration `toml:"retry_backoff"`
	SourcesCache string        `toml:"sources_cache"`
	Strict       bool          `toml:"strict"`
	// Clock, when set, starts this process's clock at that instant (the
	// demo's fixed "today"); empty is the wall clock.
	Clock string `toml:"clock"`

	clock *runClock
}

func defaultConfig() Config {
	return Config{
		Data:         "gpc-data",
		As:           "admin",
		Listen:       "127.0.0.1:23234",
		Workers:      runtime.NumCPU(),
		IdleTimeout:  15 * time.Minute,
		MaxSession:   8 * time.Hour,
		MaxAuthTries: 3,
		AuthPerMin:   20,
		Retries:      3,
		RetryBackoff: 30 * time.Second,
	}
}

// ConfigFile is the settings file inside the data directory.
const ConfigFile = "gpc.toml"

// addConfigFlags adds the flags for the named settings to a command.
func addConfigFlags(cmd *cobra.Command, keys ...string) {
	d := defaultConfig()
	v := reflect.ValueOf(d)
	for _, key := range keys {
		f, ok := fieldByKey(v.Type(), key)
		if !ok {
			panic("no config key " + key)
		}
		name := strings.ReplaceAll(key, "_", "-")
		usage := configUsage[key]
		switch x := v.FieldByIndex(f.Index).Interface().(type) {
		case string:
			cmd.Flags().String(name, x, usage)
		case int:
			cmd.Flags().Int(name, x, usage)
		case time.Duration:
			cmd.Flags().Duration(name, x, usage)
		case bool:
			cmd.Flags().Bool(name, x, usage)
		}
	}
}

var configUsage = map[string]string{
	"data":            "data directory (holds gpc.db, gpc.toml, keys and caches)",
	"as":              "the user this command acts as (every action is checked and audited)",
	"listen":          "SSH listen address",
	"workers":         "extraction workers (default: number of cores)",
	"idle_timeout":    "close a session this long after the user's last key press",
	"max_session":     "close a session this long after it started",
	"max_auth_tries":  "authentication attempts per SSH connection",
	"auth_per_minute": "authentication attempts per minute per remote address",
	"retries":         "extraction attempts per practice before it is marked failed",
	"retry_backoff":   "wait before the first retry (doubles each attempt)",
	"sources_cache":   "where imported sources are cached (default DATA/sources-cache)",
	"strict":          "refuse a source with any unreadable NDJSON line (default: skip, count and note them)",
	"clock":           "start the clock at this instant, e.g. 2026-04-15T09:00 (England); empty = the wall clock",
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("toml") == key {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// loadConfig resolves the configuration for cmd.
func loadConfig(cmd *cobra.Command) (Config, error) {
	c := defaultConfig()
	v := reflect.ValueOf(&c).Elem()
	// The data directory decides where gpc.toml is, so resolve it first.
	data := c.Data
	if e := os.Getenv("GPC_DATA"); e != "" {
		data = e
	}
	if f := cmd.Flags().Lookup("data"); f != nil && f.Changed {
		data = f.Value.String()
	}
	path := filepath.Join(data, ConfigFile)
	var err error
	if b, rerr := os.ReadFile(path); rerr == nil {
		md, err := toml.Decode(string(b), &c)
		if err != nil {
			return c, fmt.Errorf("%s: %w", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return c, fmt.Errorf("%s: unknown setting %q", path, und[0].String())
		}
	}
	c.Data = data
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		key := f.Tag.Get("toml")
		if key == "" {
			continue // derived, not a setting
		}
		raw, set := "", false
		if e, ok := os.LookupEnv("GPC_" + strings.ToUpper(key)); ok && key != "data" {
			raw, set = e, true
		}
		if fl := cmd.Flags().Lookup(strings.ReplaceAll(key, "_", "-")); fl != nil && fl.Changed {
			raw, set = fl.Value.String(), true
		}
		if !set {
			continue
		}
		if err := setField(v.Field(i), raw); err != nil {
			return c, fmt.Errorf("setting %s = %q: %w", key, raw, err)
		}
	}
	if c.SourcesCache == "" {
		c.SourcesCache = filepath.Join(c.Data, "sources-cache")
	}
	if c.clock, err = parseClock(c.Clock); err != nil {
		return c, fmt.Errorf("setting clock = %q: %w", c.Clock, err)
	}
	if c.Workers < 1 {
		return c, fmt.Errorf("setting workers = %d: must be at least 1", c.Workers)
	}
	return c, nil
}

func setField(f reflect.Value, raw string) error {
	switch f.Interface().(type) {
	case string:
		f.SetString(raw)
	case int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return err
		}
		f.SetInt(int64(n))
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
	case bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		f.SetBool(b)
	}
	return nil
}

// openStore opens the configured data directory.
func openStore(c Config) (*store.Store, error) {
	if _, err := os.Stat(filepath.Join(c.Data, store.DBFile)); err != nil {
		return nil, fmt.Errorf("no gpc data in %s (run gpc init --data %s, or gpc demo)", c.Data, c.Data)
	}
	return store.Open(c.Data, store.Options{Clock: c.clock.Now})
}

// session is an open store plus the acting user, for CLI commands.
type session struct {
	cfg   Config
	store *store.Store
	actor *domain.User
}

// withSession resolves config, opens the store and loads the actor.
func withSession(cmd *cobra.Command, fn func(*session) error) error {
	c, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	s, err := openStore(c)
	if err != nil {
		return inUse(c.Data, err)
	}
	defer s.Close()
	actor, err := ops.Actor(s, c.As)
	if err != nil {
		return fmt.Errorf("acting user: %w (choose one with --as)", err)
	}
	return fn(&session{cfg: c, store: s, actor: actor})
}
