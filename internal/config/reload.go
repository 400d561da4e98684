package config

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
)

// A field tagged reload:"restart" configures something a process opens
// once at start (sockets, the store, the audit log, Redis, the counter
// and ban back ends, signing keys, the keyring, the logger): a reload
// cannot apply a change to it. RestartFields lists them; NeedsRestart and
// KeepRestartFields are how a reload treats them. The tags are the one
// list, checked by TestRestartFields.

// RestartFields returns the YAML paths of the fields tagged
// reload:"restart", in declaration order.
func RestartFields() []string {
	var out []string
	walkRestart(reflect.TypeFor[Config](), "", func(path string, _ []int) { out = append(out, path) })
	return out
}

// NeedsRestart returns the YAML paths of the restart fields whose values
// differ between a and b; nil when a reload can apply b entirely.
func NeedsRestart(a, b *Config) []string {
	var out []string
	av, bv := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	walkRestart(av.Type(), "", func(path string, index []int) {
		if !reflect.DeepEqual(field(av, index).Interface(), field(bv, index).Interface()) {
			out = append(out, path)
		}
	})
	if PepperFile(a) != PepperFile(b) {
		out = append(out, "authn.apikey[0].pepper_file")
	}
	return out
}

// PepperFile is the API keys' pepper that the admin API and the token
// server hash with, opened once at start: the first apikey
// authenticator's, else data_dir/apikey-pepper. It is not a field a tag
// can mark (it lives in a list), so NeedsRestart and KeepRestartFields
// handle it by name.
func PepperFile(c *Config) string {
	if len(c.Authn.APIKey) > 0 {
		return c.Authn.APIKey[0].PepperFile
	}
	return filepath.Join(c.DataDir, DefaultPepperFile)
}

// KeepRestartFields copies every restart field of from into to, so that
// a reloaded pipeline stays consistent with what the process opened at
// start until it restarts.
func KeepRestartFields(to, from *Config) {
	tv, fv := reflect.ValueOf(to).Elem(), reflect.ValueOf(from).Elem()
	walkRestart(tv.Type(), "", func(_ string, index []int) {
		field(tv, index).Set(field(fv, index))
	})
	if p := PepperFile(from); len(to.Authn.APIKey) > 0 && to.Authn.APIKey[0].PepperFile != p {
		// A copy: to's list may be shared with the config it came from.
		to.Authn.APIKey = slices.Clone(to.Authn.APIKey)
		to.Authn.APIKey[0].PepperFile = p
	}
}

// walkRestart calls fn for every restart field under t, with its YAML
// path and its index path from the Config. It descends into struct-typed
// fields (not pointers, slices or maps: those are restart fields whole or
// reloadable whole).
func walkRestart(t reflect.Type, prefix string, fn func(path string, index []int), index ...int) {
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		path := joinPath(prefix, name)
		at := append(append([]int(nil), index...), i)
		switch {
		case f.Tag.Get("reload") == "restart":
			fn(path, at)
		case f.Type.Kind() == reflect.Struct:
			walkRestart(f.Type, path, fn, at...)
		}
	}
}

// field is v.FieldByIndex for an addressable struct without pointers on
// the way (walkRestart descends only into struct fields).
func field(v reflect.Value, index []int) reflect.Value {
	for _, i := range index {
		v = v.Field(i)
	}
	return v
}

// yamlName is a field's name in rampart.yaml, "" for a field that has none.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// joinPath appends a field's name to its section's YAML path.
func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
