"""The operator back office: Flask-Admin mounted at /platform, every view behind a permission."""

from __future__ import annotations

from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from mall.i18n import L_


def init_platform(app) -> Admin:
    from mall.extensions import db
    from mall.platform import views
    from mall.platform.applications import ApplicationsView
    from mall.platform.auth import blueprint as auth_blueprint
    from mall.platform.changes import StoreChangeView
    from mall.platform.supervision import SupervisionView

    app.register_blueprint(auth_blueprint, url_prefix="/platform")
    admin = Admin(
        app,
        name=L_("Mall operations"),
        url="/platform",
        endpoint="platform",
        index_view=views.PlatformIndexView(url="/platform", endpoint="platform", name=L_("Overview")),
        theme=Bootstrap4Theme(swatch="cerulean", base_template="platform/master.html"),
    )
    session = db  # Flask-Admin 2 takes the Flask-SQLAlchemy object
    admin.add_view(views.UserView(session, name=L_("Accounts"), endpoint="platform_users", category=L_("People")))
    admin.add_view(views.OperatorsView(name=L_("Operators"), endpoint="platform_operators", category=L_("People")))
    admin.add_view(views.OperatorRoleView(session, name=L_("Roles"), endpoint="platform_roles", category=L_("People")))
    admin.add_view(
        ApplicationsView(name=L_("Applications"), endpoint="platform_applications", category=L_("Merchants"))
    )
    admin.add_view(
        views.MerchantView(session, name=L_("Merchants"), endpoint="platform_merchants", category=L_("Merchants"))
    )
    admin.add_view(
        StoreChangeView(
            name=L_("Name and address changes"), endpoint="platform_store_changes", category=L_("Merchants")
        )
    )
    admin.add_view(SupervisionView(name=L_("Merchant"), endpoint="platform_supervision"))
    # catalog: taxonomy views
    from mall.platform import catalog, catalog_brands, catalog_home

    catalog_menu = L_("Catalog")
    admin.add_view(catalog.CategoriesView(name=L_("Categories"), endpoint="platform_categories", category=catalog_menu))
    admin.add_view(catalog_brands.BrandsView(name=L_("Brands"), endpoint="platform_brands", category=catalog_menu))
    admin.add_view(catalog_brands.TagsView(name=L_("Tags"), endpoint="platform_tags", category=catalog_menu))
    admin.add_view(catalog_home.HomePageView(name=L_("Home page"), endpoint="platform_home", category=catalog_menu))
    # catalog: review views
    from mall.platform.product_review import ProductReviewView

    admin.add_view(
        ProductReviewView(name=L_("Product review"), endpoint="platform_product_review", category=L_("Catalog"))
    )
    from mall.platform.orders import OrdersView

    admin.add_view(OrdersView(name=L_("Orders"), endpoint="platform_orders", category=L_("Trading")))
    from mall.platform.disputes import DisputesView
    from mall.platform.finance import CommissionView, DepositsView, ReportsView, SettlementView, WithdrawalsView
    from mall.platform.marketing import CouponsView

    admin.add_view(DisputesView(name=L_("Disputes"), endpoint="platform_disputes", category=L_("Trading")))
    admin.add_view(CouponsView(name=L_("Mall coupons"), endpoint="platform_coupons", category=L_("Marketing")))
    admin.add_view(CommissionView(name=L_("Commission"), endpoint="platform_commission", category=L_("Finance")))
    admin.add_view(SettlementView(name=L_("Settlement"), endpoint="platform_settlement", category=L_("Finance")))
    admin.add_view(WithdrawalsView(name=L_("Withdrawals"), endpoint="platform_withdrawals", category=L_("Finance")))
    admin.add_view(DepositsView(name=L_("Deposits"), endpoint="platform_deposits", category=L_("Finance")))
    admin.add_view(ReportsView(name=L_("Reports"), endpoint="platform_finance_reports", category=L_("Finance")))
    from mall.platform.payments import PaymentDeskView

    admin.add_view(PaymentDeskView(name=L_("Payment desk"), endpoint="platform_payments", category=L_("Trading")))
    admin.add_view(views.AuditView(session, name=L_("Audit log"), endpoint="platform_audit", category=L_("System")))
    admin.add_view(views.FailedJobsView(name=L_("Failed jobs"), endpoint="platform_jobs", category=L_("System")))
    app.extensions["mall.admin"] = admin
    return admin
