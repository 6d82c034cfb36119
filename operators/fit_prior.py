"""Operator: fit a class-conditional diffusion prior on the current view's train split."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ._common import (delegation_config, delegation_notice, execute, finish, form,
                      label_field_input, progress_callback, target_input)


class FitPrior(foo.Operator):
    @property
    def config(self):
        return delegation_config("fit_prior", "DsCo: fit prior",
                                 "Train a class-conditional UNet prior (minutes to an hour on CPU)",
                                 icon="model_training")

    def resolve_input(self, ctx):
        inputs = types.Object()
        target = target_input(inputs, ctx)
        if target is None or not label_field_input(inputs, ctx, target):
            return form(inputs, "Fit a diffusion prior")
        delegation_notice(inputs)
        inputs.str("name", default=f"{ctx.dataset.name}" if ctx.dataset else None, required=True,
                   label="Prior name", description="Saved under $DSCO_HOME/priors/<name>")
        inputs.int("steps", label="Training steps (optional)", min=1,
                   description="Default: 3000 at >= 24 px (~30 min on 2 CPU cores), else 2000")
        inputs.int("image_size", label="Image size (optional)", min=16)
        inputs.bool("overwrite", default=False, label="Retrain if a different prior has this name")
        return form(inputs, "Fit a diffusion prior")

    def execute(self, ctx):
        from fiftyone_dsco.priors import fit_prior

        p = ctx.params
        prior = fit_prior(ctx.target_view(), p["label_field"], name=p["name"], steps=p.get("steps"),
                          image_size=p.get("image_size"), overwrite=bool(p.get("overwrite")),
                          progress=progress_callback(ctx, "Training steps"))
        rec = prior.card.recognisability.get("overall")
        finish(ctx, message=f"Prior '{p['name']}' saved at {prior.path}")
        return {"prior": prior.path, "recognisability": rec,
                "seconds": prior.card.training.get("seconds")}

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("prior", label="Saved at")
        outputs.float("recognisability", label="Recognisability (real-data classifier accuracy)")
        outputs.float("seconds", label="Training seconds")
        return types.Property(outputs)

    def __call__(self, view, label_field, name, steps=None, image_size=None, overwrite=False,
                 delegate=False, delegation_target=None):
        """Fit a prior on the train split of ``view`` (a dataset or a view)."""
        return execute(self.config.name, view, dict(label_field=label_field, name=name, steps=steps,
                                                    image_size=image_size, overwrite=overwrite),
                       delegate, delegation_target)
