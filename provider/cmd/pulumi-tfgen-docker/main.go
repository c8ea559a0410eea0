// pulumi-tfgen-docker writes the schema that pulumi-resource-docker embeds.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"hardstack.local/docker-provider"
)

func main() {
	tfgen.Main("docker", provider.Version, provider.Provider())
}
