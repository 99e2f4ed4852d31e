"""What `swift deploy` (ms-swift 4.6) lacks for a server that strangers may call, added around swift's own code.

- A total time bound on one remote image: swift caps the size (SWIFT_MAX_DOWNLOAD_SIZE_MB) and each read
  (SWIFT_TIMEOUT), so a host that trickles a byte a second could hold a request for as long as the cap allows.
  SafeUrlFetcher.read now gives up after SMVL_FETCH_SECONDS (default 30) and closes the connection.
- 401, not 400, for a missing or wrong API key (`--api_key`), as OpenAI's API answers.
"""
import threading
from http import HTTPStatus

from swift.utils import SafeUrlFetcher, get_env_args

API_KEY_ERROR = 'API key error'  # swift's message for a missing or wrong key


def bound_fetch_time(seconds: float) -> None:
    read, read_capped = SafeUrlFetcher.read.__func__, SafeUrlFetcher._read_capped.__func__

    def read_capped_until_closed(cls, response, url, max_size):
        # a second after the caller gave up: ends a trickling body in the worker thread too
        timer = threading.Timer(seconds + 1, response.close)
        timer.start()
        try:
            return read_capped(cls, response, url, max_size)
        finally:
            timer.cancel()

    def read_within(cls, url, **kwargs):
        result = {}

        def fetch():
            try:
                result['body'] = read(cls, url, **kwargs)
            except Exception as e:  # noqa: BLE001 - handed to the caller
                result['error'] = e

        worker = threading.Thread(target=fetch, daemon=True)
        worker.start()
        worker.join(seconds)
        if worker.is_alive():
            raise ValueError(f'Refusing to fetch {url!r}: it took longer than {seconds:g}s (SMVL_FETCH_SECONDS)')
        if 'error' in result:
            raise result['error']
        return result['body']

    SafeUrlFetcher._read_capped = classmethod(read_capped_until_closed)
    SafeUrlFetcher.read = classmethod(read_within)


def unauthorized_for_bad_keys(deploy_cls) -> None:
    create_error_response = deploy_cls.create_error_response

    def create(status_code, message):
        return create_error_response(HTTPStatus.UNAUTHORIZED if message == API_KEY_ERROR else status_code, message)

    deploy_cls.create_error_response = staticmethod(create)


def apply(deploy_module) -> None:
    bound_fetch_time(get_env_args('SMVL_FETCH_SECONDS', float, 30.))
    unauthorized_for_bad_keys(deploy_module.SwiftDeploy)
