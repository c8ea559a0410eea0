// Package provider maps kreuzwerker's Terraform Docker provider onto the tokens and names of the
// official pulumi-docker SDK, so `pulumi_docker` (PyPI) drives a plugin built here from Go modules.
// Only the bridged resources exist: docker.Image (native Go upstream) is not built; use
// RemoteImage(build=...) or build outside Pulumi.
package provider

import (
	"unicode"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/terraform-providers/terraform-provider-docker/shim"
)

// Version is set at link time to the pulumi-docker SDK version the plugin stands in for.
var Version = "0.0.0"

const pkg = "docker"

// token names a member of the docker package's index module, in the file named after it.
func token(name string) string {
	file := string(unicode.ToLower(rune(name[0]))) + name[1:]
	return pkg + ":index/" + file + ":" + name
}

func resource(name string) *tfbridge.ResourceInfo {
	return &tfbridge.ResourceInfo{Tok: tokens.Type(token(name))}
}

func dataSource(name string) *tfbridge.DataSourceInfo {
	return &tfbridge.DataSourceInfo{Tok: tokens.ModuleMember(token(name))}
}

// Provider is the bridge's description of the plugin.
func Provider() tfbridge.ProviderInfo {
	container := resource("Container")
	container.DeleteBeforeReplace = true
	container.Fields = map[string]*tfbridge.SchemaInfo{
		// Lists in Terraform, singular in the SDK.
		"command":           {Name: "command"},
		"networks_advanced": {Name: "networksAdvanced"},
	}
	image := resource("RemoteImage")
	image.Fields = map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}}

	info := tfbridge.ProviderInfo{
		P:          shimv2.NewProvider(shim.NewProvider()),
		Name:       pkg,
		Version:    Version,
		License:    "Apache-2.0",
		Repository: "https://github.com/pulumi/pulumi-docker",
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {Default: &tfbridge.DefaultInfo{
				Value: "unix:///var/run/docker.sock", EnvVars: []string{"DOCKER_HOST"},
			}},
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_container":      container,
			"docker_image":          image,
			"docker_config":         resource("ServiceConfig"),
			"docker_network":        resource("Network"),
			"docker_secret":         resource("Secret"),
			"docker_service":        resource("Service"),
			"docker_volume":         resource("Volume"),
			"docker_registry_image": resource("RegistryImage"),
			"docker_plugin":         resource("Plugin"),
			"docker_tag":            resource("Tag"),
			"docker_buildx_builder": resource("BuildxBuilder"),
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_network":                  dataSource("getNetwork"),
			"docker_registry_image":           dataSource("getRegistryImage"),
			"docker_registry_image_manifests": dataSource("getRegistryImageManifests"),
			"docker_plugin":                   dataSource("getPlugin"),
			"docker_image":                    dataSource("getRemoteImage"),
			"docker_logs":                     dataSource("getLogs"),
		},
	}
	info.SetAutonaming(255, "-")
	return info
}
