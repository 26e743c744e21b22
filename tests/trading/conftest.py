import pytest


@pytest.fixture()
def client(client):
    """The trading pages' tests read English pages."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client
