from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import transport


@csrf_exempt  # authenticated by the HMAC signature, not by a session
@require_POST
def platform_events(request):
    answer = transport.handle(
        request.body,
        request.headers.get("X-Platform-Timestamp"),
        request.headers.get("X-Platform-Signature"),
    )
    return JsonResponse(answer.body, status=answer.status, json_dumps_params={"ensure_ascii": False})
