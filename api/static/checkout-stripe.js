// The hosted checkout's card field when the merchant takes payments through Stripe (the
// `stripe` processor): Stripe.js (loaded before this file, from STRIPE_JS_URL) mounts the card
// field and turns the card into a PaymentMethod in the browser, so card numbers never reach our
// server. Two uses, by what the page holds:
//   - the pay form (`form[data-stripe-key]`): on submit, make a PaymentMethod and send its id as
//     `payment_method`;
//   - the 3-D Secure step (`[data-client-secret]`): let Stripe.js authenticate, then go to the
//     page's return URL, where the server asks Stripe how it went.
(function () {
  "use strict";

  function showError(box, message) {
    box.textContent = message;
    box.hidden = false;
  }

  function hidden(form, name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }

  function payForm(form) {
    var stripe = Stripe(form.dataset.stripeKey);
    var card = stripe.elements().create("card");
    var errorBox = document.getElementById("error-card");
    var button = form.querySelector("button[type=submit]");
    var sent = false;
    card.mount("#card-element");

    form.addEventListener("submit", function (event) {
      if (sent) {
        return;  // the method is in the form: let it go
      }
      event.preventDefault();
      button.disabled = true;
      stripe.createPaymentMethod({ type: "card", card: card }).then(function (answer) {
        if (answer && answer.paymentMethod) {
          return { name: "payment_method", value: answer.paymentMethod.id };
        }
        if (answer && answer.error) {
          return { error: answer.error };
        }
        // Only localstripe's fake Stripe.js (the tests') answers nothing here: its
        // createPaymentMethod does nothing, its createToken works. Real Stripe.js never comes here.
        return stripe.createToken(card).then(function (made) {
          return made.token ? { name: "card_token", value: made.token.id } : { error: made.error || {} };
        });
      }).then(function (made) {
        if (made.error) {
          button.disabled = false;
          showError(errorBox, made.error.message || "Please check your card details.");
          return;
        }
        hidden(form, made.name, made.value);
        sent = true;
        form.submit();
      }, function () {
        button.disabled = false;
        showError(errorBox, "The card field could not reach Stripe. Please try again.");
      });
    });
  }

  function authenticate(step) {
    var stripe = Stripe(step.dataset.stripeKey);
    var clientSecret = step.dataset.clientSecret;
    var asked = stripe.handleNextAction
      ? stripe.handleNextAction({ clientSecret: clientSecret })
      : stripe.confirmCardPayment(clientSecret);
    // Whatever Stripe.js answers, the server asks Stripe by our key on the return URL.
    Promise.resolve(asked).then(function () {}, function () {}).then(function () {
      window.location.assign(step.dataset.returnUrl);
    });
  }

  var form = document.querySelector("form[data-stripe-key]");
  if (form) {
    payForm(form);
  }
  var step = document.querySelector("[data-client-secret]");
  if (step) {
    authenticate(step);
  }
})();
