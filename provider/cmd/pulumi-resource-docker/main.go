// pulumi-resource-docker is the resource plugin the pulumi_docker SDK talks to.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"hardstack.local/docker-provider"
)

//go:embed schema.json
var schema []byte

func main() {
	tfbridge.Main("docker", provider.Version, provider.Provider(), schema)
}
