#!/usr/bin/env bash
# Signs a user in on Sigil's hosted login page without a browser, doing exactly what a browser
# does: follows the authorization URL to the page (keeping its cookies), posts the form with
# its CSRF token, and prints where Sigil redirects (the application's callback with `code`,
# `state` and `iss`, or an error).
#
#   scripts/sign-in.sh AUTHORIZE_URL EMAIL PASSWORD
#
# Used by the README walk-through (tests/readme.rs runs it) and handy for trying the code flow
# from a terminal. A third-party application's consent page is answered with "allow".
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 AUTHORIZE_URL EMAIL PASSWORD" >&2
  exit 2
fi
url=$1 email=$2 password=$3
jar=$(mktemp)
trap 'rm -f "$jar" "$jar.page"' EXIT
origin=$(printf %s "$url" | sed -E 's#^(https?://[^/]+).*#\1#')

# The value of the page's hidden field `name`, unescaped from HTML.
field() {
  printf %s "$1" | sed -nE "s/.*name=\"$2\" value=\"([^\"]*)\".*/\1/p" | head -n1 |
    sed -e 's/&quot;/"/g' -e "s/&#x27;/'/g" -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g'
}
# The form's action path.
action() { printf %s "$1" | sed -nE 's/.*<form method="post" action="([^"]*)".*/\1/p' | head -n1; }
# Posts a form; prints the Location header, or the page when there is none.
post() {
  local path=$1
  shift
  local out
  out=$(curl -sS -b "$jar" -c "$jar" -o "$jar.page" -w '%{redirect_url}' "$origin$path" "$@")
  if [ -n "$out" ]; then
    printf '%s\n' "$out"
  else
    cat "$jar.page"
  fi
  rm -f "$jar.page"
}

page=$(curl -sS -b "$jar" -c "$jar" "$url")
if [ -z "$(action "$page")" ]; then
  echo "error: no login form at $url:" >&2
  printf '%s\n' "$page" >&2
  exit 1
fi
next=$(post "$(action "$page")" \
  --data-urlencode "authz=$(field "$page" authz)" \
  --data-urlencode "csrf=$(field "$page" csrf)" \
  --data-urlencode "email=$email" \
  --data-urlencode "password=$password")
case $next in
  http*) printf '%s\n' "$next" ;;
  *consent*)
    post "$(action "$next")" \
      --data-urlencode "authz=$(field "$next" authz)" \
      --data-urlencode "csrf=$(field "$next" csrf)" \
      --data-urlencode "decision=allow" ;;
  *)
    echo "error: the login did not go through:" >&2
    printf '%s\n' "$next" | sed -nE 's/.*role="alert">([^<]*)<.*/\1/p' >&2
    exit 1 ;;
esac
