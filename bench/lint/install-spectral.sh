# Sourced by spectral.sh and run.sh, not run on its own: installs the
# pinned Spectral and OWASP ruleset with npm into the current directory
# (a temporary one; nothing is installed globally) and writes
# .spectral.yaml extending the ruleset. Pinned versions (the ones the
# stored outputs came from):
SPECTRAL_CLI=6.16.3
OWASP_RULESET=2.0.1
npm init -y >/dev/null
npm install --no-audit --no-fund "@stoplight/spectral-cli@$SPECTRAL_CLI" "@stoplight/spectral-owasp-ruleset@$OWASP_RULESET" >/dev/null
printf 'extends: ["@stoplight/spectral-owasp-ruleset"]\n' > .spectral.yaml
