package secrets

import "os"

const awsKeyID = "AKIAIOSFODNN7EXAMPLE" // want `string constant assigned to awsKeyID is a credential \(AWS access key id\) in source`

var dbPassword = "s3cr3t-Pa55" // want `string constant assigned to dbPassword is a credential \(secret\) in source`

type config struct {
	APIKey string
	Region string
}

func bad() config {
	var c config
	c.APIKey = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"                              // want `assigned to APIKey is a credential \(secret\)`
	_ = map[string]string{"client_secret": "9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c"} // want `assigned to client_secret`
	_ = config{APIKey: "9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c"}                     // want `assigned to APIKey`
	use("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc")    // want `string constant holds a credential \(JWT\)`
	return c
}

func good() config {
	var c config
	c.APIKey = os.Getenv("API_KEY")
	password := "changeme"         // a placeholder
	secretName := "db-credentials" // names a secret, is not one
	c.Region = "eu-west-1"
	use(password, secretName)
	return c
}

func use(a, b string) {}
