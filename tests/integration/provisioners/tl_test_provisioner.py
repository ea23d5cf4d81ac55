"""A custom kernel provisioner for tests: jupyter_client's LocalProvisioner that marks
the kernel's environment, so a test can tell it was this provisioner that started it."""

from jupyter_client.provisioning import LocalProvisioner


class MarkingProvisioner(LocalProvisioner):
    async def pre_launch(self, **kwargs):
        kwargs = await super().pre_launch(**kwargs)
        env = dict(kwargs.get("env") or {})
        env["TL_PROVISIONED_BY"] = "tl-test-provisioner"
        kwargs["env"] = env
        return kwargs
