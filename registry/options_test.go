package registry

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/ecc-bpf/ecc/registry/registrytest"
)

// No operation modifies the Options, PushOptions or PullOptions it is
// given: defaults are filled in on copies.
func TestOptionsUnchanged(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	srv := registrytest.NewServer(t, registrytest.ServerOptions{Username: "u", Password: "pw"})
	cfg := registrytest.WriteDockerConfig(t, t.TempDir(), registrytest.DockerConfig{})
	var stderr bytes.Buffer
	o := &Options{RegistryConfig: cfg, Username: "u", Password: "pw", Stderr: &stderr}
	want := *o
	check := func(what string) {
		t.Helper()
		if !reflect.DeepEqual(*o, want) {
			t.Errorf("%s modified its Options:\n got %+v\nwant %+v", what, *o, want)
		}
	}
	if err := Login(ctx, srv.Host, "u", "pw", o); err != nil {
		t.Fatal(err)
	}
	check("Login")
	if _, err := Credential(ctx, srv.Host, o); err != nil {
		t.Fatal(err)
	}
	check("Credential")

	ref := mustRef(t, srv.Host+"/probes/keep:v1")
	dst, err := OpenTarget(ctx, ref, o)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	check("OpenTarget")
	po := &PushOptions{}
	if _, err := Push(ctx, testPackages(t, 1), dst, ref, po); err != nil {
		t.Fatal(err)
	}
	check("Push")
	if !reflect.DeepEqual(*po, PushOptions{}) {
		t.Errorf("Push modified its PushOptions: %+v", *po)
	}
	pl := &PullOptions{Platform: "linux/arm64"}
	plWant := *pl
	if _, err := Pull(ctx, dst, ref, openStore(t), pl); err != nil {
		t.Fatal(err)
	}
	check("Pull")
	if !reflect.DeepEqual(*pl, plWant) {
		t.Errorf("Pull modified its PullOptions: %+v", *pl)
	}
	if err := Logout(ctx, srv.Host, o); err != nil {
		t.Fatal(err)
	}
	check("Logout")
}
