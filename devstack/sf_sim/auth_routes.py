"""Login endpoints: the OAuth token endpoint (JWT bearer, client credentials, password), SOAP
`login()` and the API version list. Wire shapes: spec/salesforce.md section 1."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
import time
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from starlette.requests import Request
from starlette.responses import Response

from devstack.sf_sim.rest_common import json_response
from devstack.sf_sim.sim_state import SimState, sim_state

_MY_DOMAIN = re.compile(r"\.my\.salesforce\.com$|^127\.0\.0\.1|^localhost")
AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
_INVALID_LOGIN = "Invalid username, password, security token; or user locked out."
_SOAP_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:sf="urn:fault.partner.soap.sforce.com">'
    "<soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>"
    f"<faultstring>INVALID_LOGIN: {_INVALID_LOGIN}</faultstring><detail>"
    "<sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>"
    f"<sf:exceptionMessage>{_INVALID_LOGIN}</sf:exceptionMessage></sf:LoginFault>"
    "</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
)


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def token_response(state: SimState) -> Response:
    user_id = "0055g0000000001AAA"
    return json_response(
        {
            "access_token": state.new_session(),
            "instance_url": state.instance_url,
            "id": f"https://login.salesforce.com/id/{state.credentials.org_id}/{user_id}",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "scope": "api",
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
    )


async def oauth_token(request: Request) -> Response:
    state = sim_state(request)
    state.counters["token"] += 1
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    grant = str(form.get("grant_type", ""))
    delay, fault = state.faults.pick("token")
    if delay:
        await asyncio.sleep(delay)
    if fault is not None:
        return oauth_error("invalid_grant", fault.message or "authentication failure", fault.status or 400)
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        return _jwt_grant(state, str(form.get("assertion", "")))
    if grant == "client_credentials":
        return _client_credentials_grant(state, request, form)
    if grant == "password":
        return _password_grant(state, form)
    return oauth_error("unsupported_grant_type", "grant type not supported")


def _client_credentials_grant(state: SimState, request: Request, form: dict[str, str]) -> Response:
    creds = state.credentials
    client_id, client_secret = _basic_auth(request) or (
        str(form.get("client_id", "")),
        str(form.get("client_secret", "")),
    )
    if client_id != creds.client_id:
        return oauth_error("invalid_client_id", "client identifier invalid")
    if client_secret != creds.client_secret:
        return oauth_error("invalid_client", "invalid client credentials")
    if not _MY_DOMAIN.search(request.headers.get("host", "").split(":")[0]):
        return oauth_error("invalid_grant", "request not supported on this domain")
    return token_response(state)


def _password_grant(state: SimState, form: dict[str, str]) -> Response:
    creds = state.credentials
    if form.get("client_id") != creds.client_id:
        return oauth_error("invalid_client_id", "client identifier invalid")
    if form.get("client_secret") != creds.client_secret:
        return oauth_error("invalid_client", "invalid client credentials")
    if (
        form.get("username") != creds.username
        or form.get("password") != creds.password + creds.security_token
    ):
        return oauth_error("invalid_grant", "authentication failure")
    return token_response(state)


def _jwt_grant(state: SimState, assertion: str) -> Response:
    creds = state.credentials
    try:
        claims = jwt.decode(
            assertion,
            creds.public_key(),  # type: ignore[arg-type]
            algorithms=["RS256"],
            audience=list(AUDIENCES),
            options={"verify_exp": False, "require": ["iss", "sub", "aud", "exp"]},
        )
        expires = float(claims["exp"])  # simple-salesforce sends it as a string
    except jwt.InvalidAudienceError:
        return oauth_error("invalid_grant", "audience is invalid")
    except (jwt.PyJWTError, TypeError, ValueError):
        return oauth_error("invalid_grant", "invalid assertion")
    if expires < time.time():
        return oauth_error("invalid_grant", "expired authorization code")
    if claims["iss"] != creds.client_id:
        return oauth_error("invalid_client_id", "client identifier invalid")
    if claims["sub"] != creds.username:
        return oauth_error("invalid_grant", "user hasn't approved this consumer")
    return token_response(state)


async def soap_login(request: Request) -> Response:
    state = sim_state(request)
    state.counters["soap_login"] += 1
    body = (await request.body()).decode("utf-8", "replace")
    user = re.search(r"<(?:\w+:)?username>(.*?)</", body, re.S)
    password = re.search(r"<(?:\w+:)?password>(.*?)</", body, re.S)
    creds = state.credentials
    if (
        not user
        or not password
        or _xml_unescape(user.group(1)) != creds.username
        or _xml_unescape(password.group(1)) != creds.password + creds.security_token
    ):
        return Response(_SOAP_FAULT, status_code=500, media_type="text/xml")
    version = request.path_params["version"]
    host = urlsplit(state.instance_url).netloc
    ok = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com">'
        f"<soapenv:Body><loginResponse><result><serverUrl>https://{host}/services/Soap/u/{version}/"
        f"{creds.org_id[:15]}</serverUrl><sessionId>{state.new_session()}</sessionId></result></loginResponse>"
        "</soapenv:Body></soapenv:Envelope>"
    )
    return Response(ok, media_type="text/xml")


async def versions(request: Request) -> Response:
    sim_state(request).counters["versions"] += 1
    return json_response(
        [
            {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"},
            {"label": "Spring '24", "url": "/services/data/v60.0", "version": "60.0"},
        ]
    )


def _basic_auth(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote(user), unquote(password)


def _xml_unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )
