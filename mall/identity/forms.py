"""Account forms shared by the three areas' log-in pages and the consumer account pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, TelField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from mall.i18n import L_


class LoginForm(FlaskForm):
    identifier = StringField(L_("Username, email or mobile"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(L_("Password"), validators=[DataRequired(), Length(max=128)])
    remember = BooleanField(L_("Remember me"))


class RegisterForm(FlaskForm):
    username = StringField(L_("Username"), validators=[DataRequired(), Length(max=20)])
    email = EmailField(L_("Email"), validators=[Optional(), Length(max=254)])
    phone = TelField(L_("Mobile number"), validators=[Optional(), Length(max=20)])
    password = PasswordField(L_("Password"), validators=[DataRequired(), Length(max=128)])
    confirm = PasswordField(
        L_("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=L_("The passwords differ."))],
    )


class ChangePasswordForm(FlaskForm):
    old_password = PasswordField(L_("Current password"), validators=[DataRequired()])
    new_password = PasswordField(L_("New password"), validators=[DataRequired(), Length(max=128)])
    confirm = PasswordField(
        L_("Repeat new password"),
        validators=[DataRequired(), EqualTo("new_password", message=L_("The passwords differ."))],
    )


class ForgotPasswordForm(FlaskForm):
    identifier = StringField(L_("Username, email or mobile"), validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(L_("New password"), validators=[DataRequired(), Length(max=128)])
    confirm = PasswordField(
        L_("Repeat new password"),
        validators=[DataRequired(), EqualTo("new_password", message=L_("The passwords differ."))],
    )
