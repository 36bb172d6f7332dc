from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..middleware import machine_endpoint
from ..request_limits import API_BODY_MAX_BYTES, limit_body
from . import transport


@machine_endpoint
@csrf_exempt  # authenticated by the HMAC signature, not by a session
@require_POST
@limit_body(API_BODY_MAX_BYTES)
def platform_events(request):
    answer = transport.handle(
        request.body,
        request.headers.get("X-Platform-Timestamp"),
        request.headers.get("X-Platform-Signature"),
    )
    return JsonResponse(answer.body, status=answer.status, json_dumps_params={"ensure_ascii": False})
